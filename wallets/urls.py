"""The wallets' routes, mounted under api/v1/ (no trailing slashes: a redirect would break a POST)."""

from django.urls import path

from .views import deposits, ledger, pnl, withdrawal_controls, withdrawals

urlpatterns = [
    # ledger
    path("balances", ledger.BalancesView.as_view(), name="balances"),
    path("ledger", ledger.LedgerView.as_view(), name="ledger"),
    path("pnl", pnl.PnlView.as_view(), name="pnl"),
    # deposits
    path("deposits", deposits.DepositsView.as_view(), name="deposits"),
    path("deposits/address", deposits.DepositAddressView.as_view(), name="deposit-address"),
    path("custody/deposits", deposits.CustodyDepositView.as_view(), name="custody-deposits"),
    # withdrawals: the trader's own, then the back office's review
    path("withdrawals", withdrawals.WithdrawalsView.as_view(), name="withdrawals"),
    path("withdrawals/<int:pk>/cancel", withdrawals.WithdrawalCancelView.as_view(), name="withdrawal-cancel"),
    # withdrawal controls: the whitelist and the tier limits
    path("withdrawal-addresses", withdrawal_controls.WithdrawalAddressesView.as_view(), name="withdrawal-addresses"),
    path(
        "withdrawal-addresses/settings",
        withdrawal_controls.WhitelistSettingsView.as_view(),
        name="withdrawal-whitelist-settings",
    ),
    path(
        "withdrawal-addresses/<int:pk>", withdrawal_controls.WithdrawalAddressView.as_view(), name="withdrawal-address"
    ),
    path("withdrawal-limits", withdrawal_controls.WithdrawalLimitsView.as_view(), name="withdrawal-limits"),
    path("backoffice/withdrawals", withdrawals.BackofficeWithdrawalsView.as_view(), name="backoffice-withdrawals"),
    path(
        "backoffice/withdrawals/<int:pk>", withdrawals.BackofficeWithdrawalView.as_view(), name="backoffice-withdrawal"
    ),
    path(
        "backoffice/withdrawals/<int:pk>/approve",
        withdrawals.BackofficeApproveView.as_view(),
        name="backoffice-withdrawal-approve",
    ),
    path(
        "backoffice/withdrawals/<int:pk>/reject",
        withdrawals.BackofficeRejectView.as_view(),
        name="backoffice-withdrawal-reject",
    ),
    path(
        "backoffice/withdrawals/<int:pk>/sent",
        withdrawals.BackofficeSentView.as_view(),
        name="backoffice-withdrawal-sent",
    ),
]
