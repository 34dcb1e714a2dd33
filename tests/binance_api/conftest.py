import pytest


@pytest.fixture(autouse=True)
def _binance_settings(settings):
    """A known encryption key for HMAC secrets; no waiting for a matcher the unit tests drive themselves."""
    settings.API_KEY_ENCRYPTION_KEY = "test-only-api-key-encryption-key"
    settings.BINANCE_ORDER_WAIT_SECONDS = 0
    settings.AMEND_WAIT_SECONDS = 0
