"""Account freezes: who froze or asked to unfreeze an account, why, and who decided."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class AccountFreeze(models.Model):
    """One freeze (applied at once) or one unfreeze request (applied when a second person approves).

    Rows are written by ``backoffice.freezes`` only and never deleted; an unfreeze request
    is decided once (``decided_*``), which the staff audit trail records as well.
    """

    class Kind(models.TextChoices):
        FREEZE = "freeze"
        UNFREEZE = "unfreeze"

    class Status(models.TextChoices):
        APPLIED = "applied"
        PENDING = "pending"
        REJECTED = "rejected"

    # The (user, requested_at) index covers lookups by user.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    trading = models.BooleanField(help_text="Freeze: trading is frozen. Unfreeze: trading was frozen when asked.")
    withdrawals = models.BooleanField(
        help_text="Freeze: withdrawals are frozen. Unfreeze: withdrawals were frozen when asked."
    )
    reason = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-requested_at", "-id"]
        default_permissions = ("view",)
        permissions = [("freeze_account", "Can freeze accounts and request or approve unfreezing")]
        constraints = [
            # One unfreeze waits at a time per account: a second request is a conflict.
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(kind="unfreeze", status="pending"),
                name="one_pending_unfreeze_per_user",
            ),
            models.CheckConstraint(condition=Q(kind="unfreeze") | Q(status="applied"), name="freeze_applied_at_once"),
            models.CheckConstraint(
                condition=~Q(decided_by=models.F("requested_by")), name="unfreeze_not_self_approved"
            ),
        ]
        indexes = [models.Index(fields=["user", "requested_at"], name="freeze_user_at")]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk} of user {self.user_id} ({self.status})"
