from django.urls import path, re_path

from . import views_lists as lists
from . import views_public as public
from . import views_trading as trading

# Mounted under api/v3/: Binance's paths, exactly.
urlpatterns = [
    path("ping", public.PingView.as_view()),
    path("time", public.TimeView.as_view()),
    path("exchangeInfo", public.ExchangeInfoView.as_view()),
    path("depth", public.DepthView.as_view()),
    path("trades", public.TradesView.as_view()),
    path("aggTrades", public.AggTradesView.as_view()),
    path("klines", public.KlinesView.as_view()),
    path("uiKlines", public.KlinesView.as_view()),
    path("ticker/24hr", public.Ticker24hView.as_view()),
    path("ticker/price", public.TickerPriceView.as_view()),
    path("ticker/bookTicker", public.BookTickerView.as_view()),
    path("avgPrice", public.AvgPriceView.as_view()),
    path("account", trading.AccountView.as_view()),
    path("order", trading.OrderView.as_view()),
    path("order/test", trading.OrderTestView.as_view()),
    path("order/oco", lists.OrderOcoView.as_view()),
    path("order/amend/keepPriority", lists.OrderAmendKeepPriorityView.as_view()),
    path("orderList/oco", lists.OrderListOcoView.as_view()),
    path("orderList", lists.OrderListView.as_view()),
    path("openOrderList", lists.OpenOrderListView.as_view()),
    path("allOrderList", lists.AllOrderListView.as_view()),
    path("openOrders", trading.OpenOrdersView.as_view()),
    path("allOrders", trading.AllOrdersView.as_view()),
    path("myTrades", trading.MyTradesView.as_view()),
    re_path(r"^.*$", public.UnsupportedView.as_view()),
]
