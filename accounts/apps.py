from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"

    def ready(self) -> None:
        # Connects the signals that void a changed user's cached row in every process.
        from exchange_site.events import NoticeDue, subscribe

        # audit_logins: records admin logins (success and failure) in the staff audit trail.
        from . import (
            audit_logins,  # noqa: F401
            authentication,  # noqa: F401
        )
        from .notices import notice_queue

        subscribe(NoticeDue, notice_queue)
