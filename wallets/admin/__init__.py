"""The wallets' back office, one module per use case.

Read-only views of wallets, the ledger and deposits: balances change only through the
wallet service, so the admin never adds, edits or deletes these rows. Decisions
(withdrawals, manual deposits, incidents) call the services behind a confirmation page.
Money columns are not sortable: on SQLite they are stored as text.
"""

from . import (  # noqa: F401 - they register with the site
    customers,
    dashboard,
    deposits,
    incidents,
    ledger,
    pnl,
    withdrawal_controls,
    withdrawals,
)
