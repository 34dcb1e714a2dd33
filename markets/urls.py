"""The markets' routes, mounted under api/v1/: public market data, then the trader's orders."""

from django.urls import path

from .views import market_data

urlpatterns = [
    path("time", market_data.ServerTimeView.as_view(), name="server-time"),
    path("currencies", market_data.CurrencyListView.as_view(), name="currency-list"),
    path("markets", market_data.MarketListView.as_view(), name="market-list"),
    path("markets/<str:symbol>", market_data.MarketDetailView.as_view(), name="market-detail"),
    path("markets/<str:symbol>/depth", market_data.DepthView.as_view(), name="market-depth"),
    path("markets/<str:symbol>/trades", market_data.RecentTradeListView.as_view(), name="market-trades"),
    path("markets/<str:symbol>/candles", market_data.CandleListView.as_view(), name="market-candles"),
    path("markets/<str:symbol>/ticker", market_data.TickerView.as_view(), name="market-ticker"),
    path("tickers", market_data.TickerListView.as_view(), name="ticker-list"),
]
