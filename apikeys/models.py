"""API keys: what a trading bot signs its requests with instead of a JWT."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ApiKey(models.Model):
    class Type(models.TextChoices):
        HMAC = "hmac"
        ED25519 = "ed25519"

    class Permission(models.TextChoices):
        READ = "read"
        TRADE = "trade"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=64)
    # The public identifier sent in X-MBX-APIKEY.
    api_key = models.CharField(max_length=64, unique=True)
    type = models.CharField(max_length=8, choices=Type.choices, default=Type.HMAC)
    # HMAC: the secret, encrypted (apikeys/crypto.py); never stored in plain text.
    secret_encrypted = models.TextField(blank=True, default="", editable=False)
    # Ed25519: the trader's public key (PEM); the server never sees the private key.
    public_key = models.TextField(blank=True, default="")
    can_trade = models.BooleanField(default=False, help_text="Every key can read; this one may also trade.")
    ip_allowlist = models.JSONField(default=list, blank=True, help_text="Addresses or CIDR ranges; empty: any.")
    enabled = models.BooleanField(default=True)
    disabled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    disabled_reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "id"], name="apikey_user")]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(type="hmac") & ~models.Q(secret_encrypted=""))
                | (models.Q(type="ed25519") & ~models.Q(public_key="")),
                name="apikey_has_key_material",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.api_key[:8]}…)"

    @property
    def permissions(self) -> list[str]:
        return ["read", "trade"] if self.can_trade else ["read"]
