from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models import Q


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person (or the exchange's own system account) identified by email."""

    username = None
    first_name = None
    last_name = None
    email = models.EmailField("email address", unique=True)
    is_system = models.BooleanField(default=False, help_text="Internal account (e.g. the fee account); cannot log in.")
    tier = models.PositiveSmallIntegerField(
        default=0, help_text="Verification tier, set by compliance; decides the withdrawal limits."
    )
    trading_frozen = models.BooleanField(default=False, help_text="No new orders; set and lifted through a freeze.")
    withdrawals_frozen = models.BooleanField(
        default=False, help_text="No withdrawals; set and lifted through a freeze."
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.email


class SessionFamily(models.Model):
    """One login and the chain of refresh tokens rotated out of it.

    Presenting a token of the chain that was already rotated away revokes the family;
    no token of it is refreshed past the absolute session lifetime after ``started_at``.
    """

    class Reason(models.TextChoices):
        REUSE = "reuse", "a rotated-away refresh token was presented again"
        EXPIRED = "expired", "absolute session lifetime reached"
        LOGOUT = "logout", "logged out"
        TWO_FACTOR_ENABLED = "two_factor_enabled", "two-factor authentication switched on"
        TWO_FACTOR_RESET = "two_factor_reset", "two-factor authentication reset by staff"
        PASSWORD_CHANGED = "password_changed", "password changed from another session"
        PASSWORD_RESET = "password_reset", "password reset by email"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="session_families")
    started_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=32, choices=Reason.choices, blank=True, default="")

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["user", "started_at"], name="session_family_user")]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"session {self.pk}"


class SessionToken(models.Model):
    """Which session family an issued refresh token belongs to."""

    token = models.OneToOneField(
        "token_blacklist.OutstandingToken", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    family = models.ForeignKey(SessionFamily, on_delete=models.CASCADE, related_name="tokens")

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"token {self.token_id} of {self.family_id}"


class TwoFactorReset(models.Model):
    """A staff-assisted 2FA reset (lost phone): proposed by one staff member, decided by another.

    Append-only: the proposal is written once, the decision once (who, when, why); the
    admin shows the rows read-only and nothing deletes them.
    """

    class Status(models.TextChoices):
        PROPOSED = "proposed"
        APPROVED = "approved"
        REJECTED = "rejected"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="two_factor_resets")
    reason = models.TextField(help_text="How the user's identity was checked (ticket, call, documents).")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-id"]
        default_permissions = ("view",)
        permissions = [("reset_two_factor", "Can propose, approve or reject a colleague's 2FA reset proposal")]
        constraints = [
            # At most one open proposal per user; a decided one names its decider and time.
            models.UniqueConstraint(
                fields=["user"], condition=Q(status="proposed"), name="two_factor_reset_one_open_per_user"
            ),
            models.CheckConstraint(
                condition=Q(status="proposed", decided_by__isnull=True, decided_at__isnull=True)
                | (~Q(status="proposed") & Q(decided_by__isnull=False, decided_at__isnull=False)),
                name="two_factor_reset_decision_recorded",
            ),
            models.CheckConstraint(
                condition=~Q(proposed_by=models.F("user")), name="two_factor_reset_not_self_proposed"
            ),
        ]

    def __str__(self) -> str:
        return f"2FA reset {self.pk}"


class StaffAction(models.Model):
    """One staff action, for the auditors: append-only, whoever is asking.

    Written by ``accounts.audit.staff_action_record`` in the transaction of the action
    itself (a failed login has none: it is written on its own). The admin shows the rows
    read-only; on PostgreSQL a trigger refuses UPDATE and DELETE, superusers included.
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_email = models.CharField(max_length=254, help_text="As typed or as stored at the time.")
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True, default="")
    object_id = models.CharField(max_length=64, blank=True, default="")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["actor", "at"], name="staff_action_actor_at")]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.actor_email} {self.action} {self.object_type} {self.object_id}"
