"""Every read sees a receipt's served range as folded before it is (issue 15): a receipt at the head of a long
first-come-first-served queue records what it served whole as one row (`queue_serves`) and leaves those backorders'
rows as they were until they are folded in, afterwards. Whatever the queue (units each waits for, agents'
priorities, partly served backorders, three customers, a purchase order on its way or not), what the API shows
between the receipt's commit and the fold (GraphQL over HTTP as the agent and as each customer: lists, filters and
counts, single backorders with their history, places and reasons, products' queues, orders, KPIs and their
series; the CSV exports; the backlog gauge; what the notification dispatcher reads to word a digest) is exactly
what it shows once the range is folded into the rows. The reads go through one seam, `domain.store.current`
(tests/unit/test_store_reads_current.py keeps every reader on it): the tables in a snapshot in which no range was
pending, the views in one in which one was; a GraphQL query asks once."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.ids import encode_id
from domain.model import Channel
from domain.services import CustomerDetails, LineRequest
from domain.store import current, operations
from domain.store import models as t
from domain.use_cases import shared
from notifications.reads import Reads
from tests.api import support as s
from tests.api.customer_sessions import Customer, customers  # noqa: F401 - a fixture
from tests.api.statements import statements

pytestmark = pytest.mark.db

PEOPLE = ("ann@example.com", "bob@example.com", "cee@example.com")
_skus = itertools.count()

BACKORDER = """id sku status customerEmail channel orderedAt originalQuantity quantity allocatedQuantity
  backorderedQuantity shippedQuantity cancelledQuantity substitutedQuantity queuePosition promisedDate priority
  priorityReason allocationReason updatedAt declinedSubstitutes queueExplanation
  eta { date confidence source purchaseOrderNumber } history { at kind oldValue newValue cause }
  order { number lines { sku quantity allocatedQuantity shippedQuantity
    locations { location heldQuantity shippedQuantity } } }
  product { sku onHand availableToPromise unitsBackordered stock { location onHand allocated availableToPromise }
    queue { id queuePosition } }"""

AGENT = """query($sku: String!, $from: Date!, $to: Date!) {
  all: backorders(filter: {sku: $sku}, first: 200) { totalCount nodes { %s } }
  waiting: backorders(filter: {sku: $sku, status: [WAITING, PARTIALLY_ALLOCATED]}, first: 200) {
    totalCount nodes { id } }
  allocated: backorders(filter: {sku: $sku, status: [ALLOCATED]}, first: 200) { totalCount nodes { id } }
  overdue: backorders(filter: {sku: $sku, overdue: true}, first: 200) { totalCount nodes { id } }
  notOverdue: backorders(filter: {sku: $sku, overdue: false}, first: 200) { totalCount nodes { id } }
  byCustomer: backorders(filter: {customerEmail: "ann@example.com"}, first: 200) { totalCount nodes { id status } }
  page: backorders(filter: {sku: $sku}, first: 2) { totalCount pageInfo { hasNextPage endCursor } nodes { id } }
  product(sku: $sku) { unitsBackordered queue { id queuePosition allocationReason } }
  products(first: 200) { nodes { sku unitsBackordered } }
  orders(filter: {hasBackorders: true}, first: 200) { totalCount nodes { number backorders { id status } } }
  kpis { openBackorders unitsWaiting unitsAllocatedNotShipped overdueBackorders skusWithBackorders orders
    ordersWithBackorders fillRate meanWaitDays ageBuckets { label backorders units } }
  kpiSeries(from: $from, to: $to) { periods { start backordersOpened backordersServed backordersCancelled
    fillRateWithinDays ageing { label backorders } } userErrors { code } }
}""".replace("%s", BACKORDER)

ONE = "query($id: ID!) { backorder(id: $id) { %s } }".replace("%s", BACKORDER)

CUSTOMER = """{ backorders(first: 200) { totalCount nodes { id status allocatedQuantity queuePosition queueExplanation
  eta { date confidence source purchaseOrderNumber } history { at kind oldValue newValue cause } } }
  orders(first: 200) { nodes { number lines { allocatedQuantity } backorders { id status } } } }"""


async def _reads(api: Any, people: dict[str, Customer], sku: str, ids: list[str]) -> dict[str, Any]:
    """Every read there is of the SKU's backorders, as the shop shows them now."""
    today = api.clock.today()
    found: dict[str, Any] = {"agent": await api.gql(AGENT, {"sku": sku, "from": (today - timedelta(days=5)).isoformat(),
                                                            "to": today.isoformat()})}
    found["one"] = [await api.gql(ONE, {"id": encode_id("Backorder", key)}) for key in ids]
    for email, person in people.items():
        found[email] = await person.gql(CUSTOMER)
    for kind in ("backorders", "kpis"):
        response = await api.client.get(f"{api.base}/export/{kind}.csv",
                                        headers={"Authorization": f"Bearer {api.tokens['agent']}"})
        assert response.status_code == 200, response.text
        found[f"export {kind}"] = response.text
    backlog = await operations.backlog(api.clock.now())
    found["backlog"] = (backlog.waiting_backorders, backlog.waiting_units, backlog.top_skus)
    backorders, in_turn = await Reads().backorders(ids)  # what a digest is worded from
    found["digest reads"] = ({key: repr(b) for key, b in sorted(backorders.items())}, in_turn)
    return found


async def _pending(sku: str) -> int:
    return sum(count - folded for count, folded in await t.QueueServe.filter(sku=sku).values_list(
        "served_count", "folded_count"))


async def _example(api: Any, people: dict[str, Customer], queue: list[Any], first: int, received: int,
                   inbound: bool, promised: bool) -> int:
    desk, clock = api.desk, api.clock
    sku = f"SEAM{next(_skus)}"
    await s.product(desk, sku)
    if inbound:
        await s.purchase_order(desk, clock.today() + timedelta(days=9), (sku, 5))
    ids = []
    for units, priority, who in queue:
        clock.advance(timedelta(seconds=1))
        order = await desk.place_order(CustomerDetails(PEOPLE[who]), Channel.ONLINE, [LineRequest(sku, units)])
        backorder_id = order.lines[0].backorder_id
        assert backorder_id is not None
        ids.append(backorder_id)
        if priority:
            await desk.reprioritize_backorder(backorder_id, priority, "test", "agent Sam")
        if promised:  # some promised for a date already past by the receipt: overdue while they wait
            await t.Backorder.filter(id=backorder_id).update(promised_date=clock.today() + timedelta(days=units - 2))
    if first:  # some served before, so partly allocated backorders wait too
        await desk.receive_stock(sku, first)
        await desk.fold_pending_serves()
    clock.advance(timedelta(days=1))
    await desk.receive_stock(sku, received)
    left = await _pending(sku)
    clock.advance(timedelta(minutes=5))
    before = await _reads(api, people, sku, ids)
    assert await _pending(sku) == left, "nothing folded the range while it was read"
    await desk.fold_pending_serves()
    assert not await _pending(sku)
    after = await _reads(api, people, sku, ids)
    for key in after:
        assert before[key] == after[key], key
    return left


async def test_every_read_sees_a_pending_served_range_as_it_will_be_once_folded(
        api: Any, customers: Any, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    # given: receipts at the head record what they serve whole as a range, and nothing folds it in the background
    monkeypatch.setattr(shared, "SERVE_HEAD_FROM", 0)
    monkeypatch.setattr(shared, "LEDGER_FROM", 1)
    monkeypatch.setattr(shared, "STAGE_CHUNK", 10**9)
    monkeypatch.setattr(api.desk, "_fold_in_background", False)
    await s.product(api.desk, "SEED")
    people: dict[str, Customer] = {}
    for email in PEOPLE:
        await s.order(api.desk, email, ("SEED", 1))
        people[email] = customers()
        await people[email].sign_in_with_link(email)
    loop = asyncio.get_running_loop()
    recorded: list[int] = []

    @settings(max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.tuples(st.integers(1, 4), st.sampled_from([0, 0, 0, 7, -2]), st.integers(0, 2)),
                    min_size=1, max_size=8),
           st.integers(0, 4), st.integers(1, 20), st.booleans(), st.booleans())
    def check(queue: list[Any], first: int, received: int, inbound: bool, promised: bool) -> None:
        recorded.append(asyncio.run_coroutine_threadsafe(
            _example(api, people, queue, first, received, inbound, promised), loop).result(600))

    # when/then: every read before each fold equals the same read after it
    await asyncio.to_thread(check)
    assert any(recorded), "some receipts left a range to fold while it was read"


async def test_the_seam_test_would_see_a_read_of_the_rows(api: Any, customers: Any,  # noqa: F811
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # given a receipt recorded as a range and not folded
    monkeypatch.setattr(shared, "SERVE_HEAD_FROM", 0)
    monkeypatch.setattr(shared, "LEDGER_FROM", 1)
    monkeypatch.setattr(api.desk, "_fold_in_background", False)
    await s.product(api.desk, "LAMP")
    for email in PEOPLE:
        await s.order(api.desk, email, ("LAMP", 2))
    await api.desk.receive_stock("LAMP", 5)
    assert await _pending("LAMP") == 2
    # then the rows themselves still show the two served whole as waiting (what a reader of the table would see),
    # and the API does not
    rows = await t.Backorder.filter(sku="LAMP").values_list("status", flat=True)
    assert sorted(rows) == ["PARTIALLY_ALLOCATED", "WAITING", "WAITING"]
    shown = await api.gql('{ backorders(filter: {sku: "LAMP"}) { nodes { status } } }')
    assert sorted(n["status"] for n in shown["data"]["backorders"]["nodes"]) == [
        "ALLOCATED", "ALLOCATED", "PARTIALLY_ALLOCATED"]


async def test_a_query_over_http_asks_once_whether_a_range_is_pending_and_reads_it_as_folded(
        api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # given: the ledger on (receipts at the head record what they serve whole), nothing folding in the background
    monkeypatch.setattr(shared, "SERVE_HEAD_FROM", 0)
    monkeypatch.setattr(shared, "LEDGER_FROM", 1)
    monkeypatch.setattr(shared, "STAGE_CHUNK", 10**9)
    monkeypatch.setattr(api.desk, "_fold_in_background", False)
    await s.product(api.desk, "DESK")
    for email in PEOPLE:
        await s.order(api.desk, email, ("DESK", 1))
    query = """{ backorders(filter: {sku: "DESK"}) { totalCount nodes { status queuePosition queueExplanation
      allocationReason history { kind newValue } } }
      waiting: backorders(filter: {sku: "DESK", status: [WAITING]}) { totalCount }
      product(sku: "DESK") { unitsBackordered queue { id } } kpis { openBackorders unitsWaiting } }"""
    nothing = await api.gql(query)
    # when: a receipt serves two and is recorded as a range, not folded
    await api.desk.receive_stock("DESK", 2)
    assert await _pending("DESK") == 2
    with statements() as sent:
        pending = await api.gql(query)
    # then: the query asked once, in its one snapshot, and saw the two served
    assert sum(current.QUESTION in sql for sql in sent) == 1, sent  # (the token's read asks it)
    assert sorted(n["status"] for n in pending["data"]["backorders"]["nodes"]) == ["ALLOCATED", "ALLOCATED", "WAITING"]
    assert pending["data"]["waiting"]["totalCount"] == 1 and len(pending["data"]["product"]["queue"]) == 1
    assert pending != nothing
    # then: once folded, the same answer from the rows themselves
    await api.desk.fold_pending_serves()
    assert not await _pending("DESK")
    assert await api.gql(query) == pending
