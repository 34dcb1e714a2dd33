"""API keys in the admin: compliance reads, back office disables for good (recorded), nobody edits."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from accounts.roles import BACK_OFFICE, COMPLIANCE
from apikeys.models import ApiKey
from tests.backoffice.helpers import admin_login, make_staff
from tests.factories import UserFactory

from .helpers import assert_binance_error, hmac_bot

pytestmark = pytest.mark.django_db


@pytest.fixture
def bot_and_key():
    return hmac_bot(UserFactory())


def test_compliance_sees_keys_without_secrets_and_cannot_disable(client, bot_and_key):
    bot, key = bot_and_key
    admin_login(client, make_staff(COMPLIANCE))
    listing = client.get(reverse("admin:apikeys_apikey_changelist"))
    assert listing.status_code == 200
    assert key.api_key[:8] in listing.content.decode()
    page = client.get(reverse("admin:apikeys_apikey_change", args=[key.pk])).content.decode()
    assert 'id="decide-' not in page
    assert bot.secret not in page
    assert key.secret_encrypted not in page
    response = client.post(
        reverse("admin:apikeys_apikey_decide", args=[key.pk, "disable"]), {"confirm": "yes", "reason": "x"}
    )
    assert response.status_code == 403
    assert ApiKey.objects.get(pk=key.pk).enabled is True


def test_back_office_disables_a_key_for_good_with_a_recorded_reason(client, bot_and_key, auth_client):
    bot, key = bot_and_key
    officer = make_staff(BACK_OFFICE)
    admin_login(client, officer)
    page = client.get(reverse("admin:apikeys_apikey_change", args=[key.pk])).content.decode()
    assert 'id="decide-disable"' in page
    response = client.post(
        reverse("admin:apikeys_apikey_decide", args=[key.pk, "disable"]),
        {"confirm": "yes", "reason": "leaked on a forum"},
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert (key.enabled, key.disabled_by_id, key.disabled_reason) == (False, officer.pk, "leaked on a forum")
    assert LogEntry.objects.filter(user=officer, object_id=str(key.pk), change_message__contains="Disable").exists()
    assert_binance_error(bot.call("GET", "account"), -2015, 401)
    # The owner cannot switch it back on.
    resp = auth_client(key.user).patch(f"/api/v1/api-keys/{key.pk}", {"enabled": True}, format="json")
    assert resp.status_code == 403
    assert ApiKey.objects.get(pk=key.pk).enabled is False


def test_staff_without_a_role_and_traders_do_not_see_keys(client, bot_and_key):
    admin_login(client, make_staff())
    assert client.get(reverse("admin:apikeys_apikey_changelist")).status_code == 403
