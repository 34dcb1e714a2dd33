from django.urls import path

from . import views as v
from . import views_order_types as vt

urlpatterns = [
    path("orders", v.OrdersView.as_view(), name="orders"),
    path("orders/by-client-id/<str:client_order_id>", v.OrderByClientIdView.as_view(), name="order-by-client-id"),
    path("orders/<int:order_id>", v.OrderView.as_view(), name="order"),
    path("trades", v.MyTradesView.as_view(), name="my-trades"),
    path("order-lists/oco", vt.OcoView.as_view(), name="order-list-oco"),
    path("order-lists/<int:list_id>", vt.OrderListView.as_view(), name="order-list"),
]
