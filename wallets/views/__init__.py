"""The wallets' REST API, one module per use case: ledger (balances too), deposits, withdrawals."""
