"""Moved to ``tools.soak``; this name stays only until ``bench_ws`` moves to ``tools`` too."""

from tools.soak import access_token, soak_market_create

__all__ = ["access_token", "soak_market_create"]
