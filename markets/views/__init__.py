"""The markets' REST API: public market data (the trader's orders live with trading)."""
