"""Shapes of the API-key endpoints (JWT); the rules live in ``apikeys.services``."""

from __future__ import annotations

from rest_framework import serializers

from accounts.serializers import MAX_OTP_INPUT_LENGTH, MAX_PASSWORD_LENGTH, StrictCharField

from .models import ApiKey
from .services import MAX_ALLOWLIST


class ApiKeyCreateIn(serializers.Serializer):
    name = StrictCharField(max_length=64)
    permissions = serializers.ListField(
        child=serializers.ChoiceField(choices=ApiKey.Permission.choices), min_length=1, max_length=2
    )
    ip_allowlist = serializers.ListField(
        child=StrictCharField(max_length=64), max_length=MAX_ALLOWLIST, required=False, default=list
    )
    type = serializers.ChoiceField(choices=ApiKey.Type.choices, default=ApiKey.Type.HMAC)
    public_key = StrictCharField(max_length=4096, required=False, trim_whitespace=False)
    password = StrictCharField(max_length=MAX_PASSWORD_LENGTH, trim_whitespace=False)
    otp = StrictCharField(max_length=MAX_OTP_INPUT_LENGTH, required=False, allow_blank=True)


class ApiKeyUpdateIn(serializers.Serializer):
    enabled = serializers.BooleanField(required=False)
    name = StrictCharField(max_length=64, required=False)
    ip_allowlist = serializers.ListField(child=StrictCharField(max_length=64), max_length=MAX_ALLOWLIST, required=False)


class ApiKeyOut(serializers.ModelSerializer):
    permissions = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "api_key",
            "permissions",
            "ip_allowlist",
            "type",
            "enabled",
            "created_at",
            "last_used_at",
        ]


class ApiKeyCreatedOut(ApiKeyOut):
    secret = serializers.CharField(allow_null=True, help_text="HMAC keys only; shown this once.")

    class Meta(ApiKeyOut.Meta):
        fields = [*ApiKeyOut.Meta.fields, "secret"]
