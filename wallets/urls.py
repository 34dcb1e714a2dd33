from django.urls import path

from . import views

urlpatterns = [
    path("balances", views.BalancesView.as_view(), name="balances"),
    path("ledger", views.LedgerView.as_view(), name="ledger"),
    path("deposits", views.DepositsView.as_view(), name="deposits"),
    path("deposits/address", views.DepositAddressView.as_view(), name="deposit-address"),
    path("custody/deposits", views.CustodyDepositView.as_view(), name="custody-deposits"),
]
