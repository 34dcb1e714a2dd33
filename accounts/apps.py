from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"

    def ready(self) -> None:
        # Connects the signals that void a changed user's cached row in every process.
        # Records admin logins (success and failure) in the staff audit trail.
        from . import (
            audit_logins,  # noqa: F401
            authentication,  # noqa: F401
        )
