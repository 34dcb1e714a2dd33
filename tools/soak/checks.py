"""After the run: did everything catch up, was an order lost or a trade settled twice, does the audit pass."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from markets.models import Market, Order, OrderList, Trade
from tools.harness import ROOT
from tools.waiting import wait_until
from wallets.models import LedgerEntry, SettlementCursor


def caught_up(market_id: int) -> bool:
    """Has the matcher taken every accepted command, and settlement reached the matcher's sequence?"""
    in_engine = Order.objects.filter(market_id=market_id, status__in=Order.IN_ENGINE_STATUSES)
    pending = (
        Order.objects.filter(market_id=market_id, status=Order.Status.NEW).exists()
        or in_engine.filter(cancel_requested_at__isnull=False).exists()
        or Order.objects.filter(
            market_id=market_id, status__in=Order.RESTING_STATUSES, amend_requested_at__isnull=False
        ).exists()
        # GTD orders past their time: the matcher expires them within a batch interval.
        or in_engine.filter(expire_time__lt=timezone.now() - GTD_SLACK).exists()
    )
    last = Market.objects.values_list("last_sequence", flat=True).get(pk=market_id)
    settled = SettlementCursor.objects.filter(market_id=market_id).values_list("settled_sequence", flat=True).first()
    # Nothing matched yet (last 0) needs no settlement cursor.
    return not pending and (last == 0 or settled == last)


def wait_caught_up(market_id: int, *, timeout: float) -> bool:
    """Wait until ``caught_up``; False if it did not happen within ``timeout`` seconds."""
    try:
        return wait_until(lambda: caught_up(market_id), timeout, what="matching and settlement", interval=0.2)
    except TimeoutError:
        return False


@dataclass
class Findings:
    lost_orders: list[str] = field(default_factory=list)
    double_settlements: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)


FINAL_WITH_REASON = {Order.Status.CANCELED, Order.Status.EXPIRED}
NEVER_RESTS = {"ioc", "fok", "market", "market_by_quantity", "stop_market", "oco_stop_market"}
STOP_KINDS = {"stop_limit", "stop_market", "oco_stop_limit", "oco_stop_market"}
GTD_SLACK = timedelta(seconds=5)


def check_orders(market_id: int, accepted: dict[int, str]) -> Findings:
    """Every accepted order is open, filled, canceled, expired or rejected with a reason."""
    found = Findings()
    rows = {
        o["id"]: o
        for o in Order.objects.filter(market_id=market_id).values(
            "id", "status", "reject_reason", "cancel_reason", "post_only", "time_in_force", "type", "expire_time"
        )
    }
    expired_by = timezone.now() - GTD_SLACK
    for order_id, kind in sorted(accepted.items()):
        row = rows.get(order_id)
        if row is None:
            found.lost_orders.append(f"order {order_id} ({kind}) was accepted but is not in the database")
            continue
        status = row["status"]
        if status == Order.Status.NEW:
            found.lost_orders.append(f"order {order_id} ({kind}) is stuck in 'new'")
        elif status == Order.Status.REJECTED and not row["reject_reason"]:
            found.lost_orders.append(f"order {order_id} ({kind}) was rejected without a reason")
        elif status in FINAL_WITH_REASON and not row["cancel_reason"]:
            found.lost_orders.append(f"order {order_id} ({kind}) is {status} without a reason")
        elif status in Order.RESTING_STATUSES and kind in NEVER_RESTS:
            found.other.append(f"order {order_id} ({kind}) rests on the book as {status}")
        elif status == Order.Status.UNTRIGGERED and kind not in STOP_KINDS:
            found.other.append(f"order {order_id} ({kind}) is untriggered but is no stop")
        elif status in Order.IN_ENGINE_STATUSES and row["expire_time"] and row["expire_time"] < expired_by:
            found.lost_orders.append(f"order {order_id} ({kind}) is still {status} past its expire_time")
    return found


def check_order_lists(order_lists: Mapping[int, list[int]], found: Findings) -> None:
    """OCO pairs: both legs recorded, at most one of them traded, the list done once they are unlinked."""
    rows = {
        o["id"]: o
        for o in Order.objects.filter(order_list_id__in=list(order_lists)).values(
            "id", "order_list_id", "status", "filled_quantity"
        )
    }
    statuses = dict(OrderList.objects.filter(pk__in=list(order_lists)).values_list("id", "status"))
    for list_id, legs in sorted(order_lists.items()):
        got = [rows[leg] for leg in legs if leg in rows and rows[leg]["order_list_id"] == list_id]
        if len(got) != 2 or list_id not in statuses:
            found.lost_orders.append(f"order list {list_id}: {len(got)} of its 2 legs recorded")
            continue
        if all(leg["filled_quantity"] > 0 for leg in got):
            found.double_settlements.append(f"order list {list_id}: both legs traded")
        open_legs = [leg["id"] for leg in got if leg["status"] in Order.OPEN_STATUSES]
        if statuses[list_id] == OrderList.Status.ACTIVE and len(open_legs) < 2:
            found.other.append(f"order list {list_id} is active with legs {open_legs} open")
        # Done once one leg traded or triggered and the other left: the survivor may still rest.
        if statuses[list_id] == OrderList.Status.DONE and len(open_legs) > 1:
            found.other.append(f"order list {list_id} is done but both legs {open_legs} are open")


def check_settlement(
    market_id: int,
    order_ids: list[int],
    found: Findings,
    *,
    order_lists: Mapping[int, list[int]] | None = None,
    amends: Mapping[int, int] | None = None,
) -> int:
    """Exactly one set of ledger entries per trade, one lock and at most one release per order.

    An OCO pair shares one lock (and at most one release) between its legs; an amend may
    add one lock and one release to its order.
    """
    market = Market.objects.get(pk=market_id)
    cursor = SettlementCursor.objects.filter(market_id=market_id).values_list("settled_sequence", flat=True).first()
    if cursor != market.last_sequence:
        found.other.append(f"settled_sequence {cursor} != last_sequence {market.last_sequence}")
    trades = list(Trade.objects.filter(market_id=market_id).values_list("id", "maker_fee", "taker_fee"))
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    refs = [f"trade:{t[0]}" for t in trades] + [f"order:{o}" for o in order_ids]
    for start in range(0, len(refs), 5000):
        chunk = refs[start : start + 5000]
        for reference, kind in LedgerEntry.objects.filter(reference__in=chunk).values_list("reference", "kind"):
            counts[reference][kind] += 1
    K = LedgerEntry.Kind
    for trade_id, maker_fee, taker_fee in trades:
        c = counts.get(f"trade:{trade_id}", Counter())
        fees = (maker_fee != 0) + (taker_fee != 0)
        expected = {K.TRADE: 4, K.TRADE_FEE: fees, K.FEE_INCOME: fees}
        got = {kind: c[kind] for kind in expected}
        if got == expected:
            continue
        if any(got[kind] > n for kind, n in expected.items()):
            found.double_settlements.append(f"trade {trade_id}: ledger entries {dict(c)}, expected {expected}")
        else:
            found.other.append(f"trade {trade_id} is not (fully) settled: ledger entries {dict(c)}")
    amends = amends or {}
    groups = [[o] for o in order_ids if o not in _legs_of(order_lists)] + list((order_lists or {}).values())
    for group in groups:
        c = sum((counts.get(f"order:{o}", Counter()) for o in group), Counter())
        extra = sum(amends.get(o, 0) for o in group)
        name = f"order {group[0]}" if len(group) == 1 else f"order list of {group}"
        if not 1 <= c[K.ORDER_LOCK] <= 1 + extra:
            found.other.append(f"{name}: {c[K.ORDER_LOCK]} order_lock entries")
        if c[K.ORDER_RELEASE] > 1 + extra:
            found.double_settlements.append(f"{name}: released {c[K.ORDER_RELEASE]} times")
    return len(trades)


def _legs_of(order_lists: Mapping[int, list[int]] | None) -> set[int]:
    return {leg for legs in (order_lists or {}).values() for leg in legs}


def run_audit(env: dict[str, str]) -> tuple[int, int, str]:
    """Run ``manage.py audit_ledger`` like an operator would; return (exit code, breaches, output)."""
    done = subprocess.run(
        [sys.executable, "manage.py", "audit_ledger", "--wait", "30"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    match = re.search(r"(\d+) breach\(es\) found", output)
    breaches = int(match.group(1)) if match else (0 if done.returncode == 0 else 1)
    return done.returncode, breaches, output


# -- the run -----------------------------------------------------------------------
