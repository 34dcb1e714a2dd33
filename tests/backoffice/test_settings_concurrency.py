"""Concurrent settings decisions are applied one after the other (row locks; PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from accounts.roles import BACK_OFFICE, MARKET_OPS
from exchange_site.errors import DomainError
from markets.models import Currency, SettingChange, SettingProposal
from markets.services_settings import currency_update, setting_proposal_approve, setting_proposal_reject
from tests.concurrency import race

from .helpers import make_staff

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
]


def test_racing_approvals_and_a_rejection_decide_a_proposal_once(btc):
    proposer = make_staff(MARKET_OPS, two_factor=False)
    a, b, c = (make_staff(BACK_OFFICE, two_factor=False) for _ in range(3))
    proposal = currency_update(
        actor=proposer, currency_id=btc.pk, changes={"dual_approval_threshold": Decimal("7")}
    ).proposals[0]

    results = race(
        lambda: setting_proposal_approve(actor=a, proposal_id=proposal.pk),
        lambda: setting_proposal_approve(actor=b, proposal_id=proposal.pk),
        lambda: setting_proposal_reject(actor=c, proposal_id=proposal.pk, reason="no"),
    )

    decided = [r for r in results if isinstance(r, SettingProposal)]
    assert len(decided) == 1, results
    assert all(isinstance(r, DomainError) and r.code == "already_decided" for r in results if r not in decided)
    proposal.refresh_from_db()
    expected = Decimal("7") if proposal.status == "applied" else Decimal("1")
    assert Currency.objects.get(pk=btc.pk).dual_approval_threshold == expected
    assert SettingChange.objects.filter(proposal=proposal).exclude(action="propose").count() == 1


def test_racing_proposals_of_one_setting_leave_one_pending(btc):
    a, b = (make_staff(MARKET_OPS, two_factor=False) for _ in range(2))

    results = race(
        lambda: currency_update(actor=a, currency_id=btc.pk, changes={"dual_approval_threshold": Decimal("5")}),
        lambda: currency_update(actor=b, currency_id=btc.pk, changes={"dual_approval_threshold": Decimal("6")}),
    )

    assert SettingProposal.objects.filter(status="pending").count() == 1
    assert sum(isinstance(r, DomainError) and r.code == "proposal_pending" for r in results) == 1, results
    assert Currency.objects.get(pk=btc.pk).dual_approval_threshold == Decimal("1")
