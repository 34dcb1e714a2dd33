from django.urls import path

from . import views_public as views

urlpatterns = [
    path("time", views.ServerTimeView.as_view(), name="server-time"),
    path("currencies", views.CurrencyListView.as_view(), name="currency-list"),
    path("markets", views.MarketListView.as_view(), name="market-list"),
    path("markets/<str:symbol>", views.MarketDetailView.as_view(), name="market-detail"),
    path("markets/<str:symbol>/depth", views.DepthView.as_view(), name="market-depth"),
    path("markets/<str:symbol>/trades", views.RecentTradeListView.as_view(), name="market-trades"),
    path("markets/<str:symbol>/candles", views.CandleListView.as_view(), name="market-candles"),
    path("markets/<str:symbol>/ticker", views.TickerView.as_view(), name="market-ticker"),
    path("tickers", views.TickerListView.as_view(), name="ticker-list"),
]
