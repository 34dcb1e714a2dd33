"""The accounts' REST API: auth (registration, login, sessions, 2FA) and staff two-factor resets."""
