"""The unit of work's contract (domain/ports.py), run against both implementations with the same test bodies:
the in-memory fake the use-case tests run on (tests/unit/fakes.py) and the tortoise one (SQLite, and PostgreSQL
with BACKORDER_TEST_POSTGRES_URL and `-m db`). When the fake drifts from the database, the use-case tests that
run on it stop proving anything about the product: this suite is what keeps the two the same.

Covered: round trips of every aggregate, commit and rollback (on leaving without commit, on an error, and for
objects changed but not saved), the uniqueness the store enforces (purchase order numbers, idempotency keys),
the SKU aggregate as loaded (stock, active queue, open inbound, supplier), the queries the use cases rely on
(skus_supplied_by, skus_with_stale_etas, number probes, by key), the queue summary a placement may read
instead of the whole queue (the tail probes `SkuInventory.can_append` relies on), the suppliers' delivery
record and the customers' substitute consents. A method added to the port gets its test here.

Over 400 lines on purpose: it is one contract for one port, and a reader checking a method of the fake against
the database finds its test here, not in one of several files.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from domain.bus import InProcessBus
from domain.clock import FixedClock
from domain.delays import DelayCount, DeliveryRecord, delay_counts
from domain.errors import Conflict, ErrorCode, NotFound
from domain.model import (
    BackorderPolicy,
    Channel,
    Customer,
    CustomerTier,
    Money,
    Order,
    OrderLine,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    SkuInventory,
    Supplier,
    new_id,
)
from domain.ports import UnitOfWorkFactory, UnlockedWrite
from domain.preferences import BackorderPreferences, SubstituteConsent
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.store import models as t
from domain.store import portal
from domain.store.db import open_database
from domain.store.uow import TortoiseUnitOfWork
from tests.conftest import fresh_database
from tests.unit.fakes import InMemoryStore
from tests.unit.support import NOW, TODAY


@dataclass
class Store:
    """One implementation of the port, with what a test needs around it."""

    kind: str
    uow: UnitOfWorkFactory
    desk: BackorderDesk  # to set up a shop through the use cases
    event_kinds: Callable[[], Awaitable[list[str]]]  # the committed events, in order
    set_timezone: Callable[[str, str], Awaitable[None]]  # a customer's zone, as their notification preferences


@pytest.fixture(params=["memory", pytest.param("database", marks=pytest.mark.db)])
async def store(request: pytest.FixtureRequest, tmp_path: Path,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Store]:
    if request.param == "memory":
        memory = InMemoryStore()

        async def memory_events() -> list[str]:
            return [event.kind for event in memory.state.events]

        async def memory_zone(email: str, zone: str) -> None:  # the fake's stand-in for the preferences row
            memory.state.backorder_defaults[email] = BackorderPreferences(timezone=zone)

        yield Store("memory", memory, BackorderDesk(memory, FixedClock(NOW)), memory_events, memory_zone)
        return

    def factory() -> TortoiseUnitOfWork:
        return TortoiseUnitOfWork(InProcessBus())

    async def database_zone(email: str, zone: str) -> None:
        await portal.CustomerPreferences.create(email=email, timezone=zone)

    async def logged_events() -> list[str]:
        return list(await t.EventLog.all().order_by("id").values_list("kind", flat=True))

    async with fresh_database(tmp_path, tmp_path_factory) as url, open_database(url, apply_migrations=False):
        yield Store("database", factory, BackorderDesk(factory, FixedClock(NOW)), logged_events, database_zone)


def _product(sku: str = "MUG", **changes: object) -> Product:
    made = Product(sku=sku, name="Mug", price=Money.of("12.50", "EUR"), backorder_policy=BackorderPolicy.ALLOW,
                   backorder_limit=40, release_date=date(2026, 4, 1), substitutes=[], lead_time_days=9)
    for name, value in changes.items():
        setattr(made, name, value)
    return made


async def _shop(store: Store, *, on_hand: int = 0, supplier_lead_time: int = 10) -> Supplier:
    supplier = await store.desk.upsert_supplier(None, "Acme", supplier_lead_time)
    await store.desk.upsert_product(ProductInput("MUG", "Mug", Decimal("12.50"), supplier_id=supplier.id))
    await store.desk.upsert_product(ProductInput("CUP", "Cup", Decimal("8.00")))
    if on_hand:
        await store.desk.receive_stock("MUG", on_hand)
    return supplier


async def _order(store: Store, email: str, quantity: int, sku: str = "MUG") -> Order:
    return await store.desk.place_order(CustomerDetails(email, "Ann"), Channel.ONLINE, [LineRequest(sku, quantity)])


# -- commit and rollback ----------------------------------------------------------------------------
async def test_what_is_saved_and_committed_reads_back_equal_in_the_next_unit_of_work(store: Store):
    async with store.uow() as uow:
        await uow.save_product(_product())
        await uow.commit()
    async with store.uow() as uow:
        assert await uow.get_product("MUG") == _product(version=1)


async def test_leaving_without_commit_keeps_nothing(store: Store):
    async with store.uow() as uow:
        await uow.save_product(_product())
        assert await uow.get_product("MUG") is not None  # the unit of work reads its own writes
    async with store.uow() as uow:
        assert await uow.get_product("MUG") is None


async def test_an_error_inside_the_unit_of_work_undoes_its_writes(store: Store):
    with pytest.raises(RuntimeError):
        async with store.uow() as uow:
            await uow.save_product(_product())
            uow.add_events([])
            raise RuntimeError("a rule said no after the write")
    async with store.uow() as uow:
        assert await uow.get_product("MUG") is None


async def test_an_object_changed_but_not_saved_is_not_kept(store: Store):
    # given a committed product and supplier
    supplier = Supplier(id=new_id(), name="Acme", lead_time_days=10)
    async with store.uow() as uow:
        await uow.save_supplier(supplier)
        await uow.save_product(_product())
        await uow.commit()
    # when a use case changes what it read but saves nothing, then commits
    async with store.uow() as uow:
        product = await uow.get_product("MUG")
        found = await uow.get_supplier(supplier.id)
        assert product is not None and found is not None
        product.name, found.lead_time_days = "Renamed", 99
        await uow.commit()
    # then only saving writes: a fake that kept it would pass use-case tests the database fails
    async with store.uow() as uow:
        assert (await uow.get_product("MUG")).name == "Mug"  # type: ignore[union-attr]
        assert (await uow.get_supplier(supplier.id)).lead_time_days == 10  # type: ignore[union-attr]


async def test_a_supplier_saved_from_a_stale_copy_keeps_the_deliveries_counted_meanwhile(store: Store):
    # given a supplier, read by an agent's rename before two of its purchase orders are received
    supplier = Supplier(id=new_id(), name="Acme", lead_time_days=10)
    async with store.uow() as uow:
        await uow.save_supplier(supplier)
        await uow.commit()
    async with store.uow() as uow:
        stale = await uow.get_supplier(supplier.id)
    for late in (True, False, True):
        async with store.uow() as uow:
            await uow.count_delivery(supplier.id, late)
            await uow.commit()
    # when the rename saves its copy, read before those deliveries
    assert stale is not None
    stale.name = "Acme Ltd"
    async with store.uow() as uow:
        await uow.save_supplier(stale)
        await uow.commit()
    # then every delivery is still counted (a read-add-save of the counts lost them)
    async with store.uow() as uow:
        found = await uow.get_supplier(supplier.id)
    assert found is not None
    assert (found.name, found.deliveries_late, found.deliveries_on_time) == ("Acme Ltd", 2, 1)


async def test_an_inventory_saved_without_its_sku_s_lock_is_refused_and_nothing_is_written(store: Store):
    # given a mug with 5 on hand, read by a unit of work that locks only the cup
    await _shop(store, on_hand=5)
    with pytest.raises(UnlockedWrite):
        async with store.uow() as uow:
            await uow.lock_skus(["CUP"])
            inventory = await uow.inventory("MUG")
            inventory.adjust("MAIN", -2, NOW, "dropped")
            # when it saves the mug: then refused (every writer of a SKU's backorders holds the SKU's lock)
            await uow.save_inventory(inventory)
    async with store.uow() as uow:
        assert (await uow.inventory("MUG")).on_hand == 5


async def test_an_inventory_changed_but_not_saved_is_not_kept(store: Store):
    await _shop(store, on_hand=5)
    async with store.uow() as uow:
        await uow.lock_skus(["MUG"])
        inventory = await uow.inventory("MUG")
        inventory.adjust("MAIN", -2, NOW, "dropped")
        await uow.commit()  # without save_inventory
    async with store.uow() as uow:
        assert (await uow.inventory("MUG")).on_hand == 5


async def test_committed_events_are_recorded_in_order_and_rolled_back_ones_are_not(store: Store):
    await _shop(store)
    before = await store.event_kinds()
    await _order(store, "ann@example.com", 2)
    with pytest.raises(NotFound):
        await store.desk.receive_stock("NOPE", 1)
    added = (await store.event_kinds())[len(before):]
    assert added[0] == "OrderPlaced" and "BackorderCreated" in added
    assert "StockReceived" not in added


# -- round trips ------------------------------------------------------------------------------------
async def test_a_supplier_and_the_skus_whose_etas_depend_on_it(store: Store):
    supplier = await _shop(store)
    other = await store.desk.upsert_supplier(None, "Other", 5)
    await store.desk.upsert_product(ProductInput("PLATE", "Plate", Decimal("3.00")))
    await store.desk.upsert_product(ProductInput("BOWL", "Bowl", Decimal("4.00")))
    await store.desk.create_purchase_order(supplier.id, TODAY + timedelta(days=5), [LineRequest("PLATE", 3)])
    done = await store.desk.create_purchase_order(supplier.id, TODAY + timedelta(days=5), [LineRequest("BOWL", 1)])
    await store.desk.update_purchase_order(done.id, cancel=True)
    async with store.uow() as uow:
        found = await uow.get_supplier(supplier.id)
        assert found == Supplier(id=supplier.id, name="Acme", lead_time_days=10)
        # its products and what its open purchase orders bring; not a cancelled order's SKUs
        assert await uow.skus_supplied_by(supplier.id) == ["MUG", "PLATE"]
        assert await uow.skus_supplied_by(other.id) == []
        assert await uow.get_supplier("nope") is None


async def test_a_purchase_order_reads_back_and_its_number_is_taken_once(store: Store):
    supplier = await _shop(store)
    po = PurchaseOrder(id=new_id(), number="PO-7", supplier_id=supplier.id, expected_date=TODAY + timedelta(days=3),
                       lines=[PurchaseOrderLine("MUG", 5, 2), PurchaseOrderLine("CUP", 1)],
                       status=PurchaseOrderStatus.PARTIALLY_RECEIVED, location="BACK", created_at=NOW)
    async with store.uow() as uow:
        await uow.save_purchase_order(po)
        await uow.commit()
    async with store.uow() as uow:
        found = await uow.get_purchase_order(po.id)
        assert found is not None
        assert (found.number, found.supplier_id, found.expected_date, found.status, found.location) == (
            "PO-7", supplier.id, po.expected_date, PurchaseOrderStatus.PARTIALLY_RECEIVED, "BACK")
        assert found.lines == po.lines
        assert await uow.purchase_order_number_taken("PO-7")
        assert not await uow.purchase_order_number_taken("PO-8")
        assert await uow.get_purchase_order("nope") is None
    # another purchase order with the same number is refused
    twin = PurchaseOrder(id=new_id(), number="PO-7", supplier_id=supplier.id, expected_date=po.expected_date,
                         lines=[PurchaseOrderLine("MUG", 1)], created_at=NOW)
    with pytest.raises(Conflict) as refused:
        async with store.uow() as uow:
            await uow.save_purchase_order(twin)
            await uow.commit()
    assert (refused.value.code, refused.value.field) == (ErrorCode.DUPLICATE, "number")


async def test_an_order_with_its_customer_reads_back_by_id_and_by_idempotency_key(store: Store):
    await _shop(store)
    customer = Customer("ann@example.com", "Ann", "+447700900123", CustomerTier.VIP)
    order = Order(id=new_id(), number="BD-1", channel=Channel.PHONE, customer=customer, placed_at=NOW,
                  ship_complete=True)
    order.lines.append(OrderLine(id=new_id(), order_id=order.id, sku="MUG", quantity=3,
                                 unit_price=Money.of("12.50", "EUR"), allocated_quantity=1, reserved={"MAIN": 1}))
    async with store.uow() as uow:
        await uow.save_customer(customer)
        await uow.save_order(order, "key-1")
        await uow.commit()
    async with store.uow() as uow:
        found = await uow.get_order(order.id)
        assert found is not None
        assert (found.number, found.channel, found.customer, found.placed_at, found.ship_complete) == (
            "BD-1", Channel.PHONE, customer, NOW, True)
        assert found.lines == order.lines
        assert (await uow.get_order_by_key("key-1")).id == order.id  # type: ignore[union-attr]
        assert await uow.get_order_by_key("key-2") is None
        assert await uow.order_number_taken("BD-1") and not await uow.order_number_taken("BD-2")
        assert await uow.get_customer("ann@example.com") == customer
        assert await uow.get_customer("bob@example.com") is None
    # another order with the same idempotency key is refused: its twin got there first
    twin = Order(id=new_id(), number="BD-2", channel=Channel.ONLINE, customer=customer, placed_at=NOW)
    with pytest.raises(Conflict):
        async with store.uow() as uow:
            await uow.save_order(twin, "key-1")
            await uow.commit()


# -- the SKU aggregate ------------------------------------------------------------------------------
async def test_an_unknown_sku_has_no_inventory(store: Store):
    async with store.uow() as uow:
        await uow.load_inventories(["NOPE"])  # skipped, not an error
        with pytest.raises(NotFound) as missing:
            await uow.inventory("NOPE")
    assert (missing.value.code, missing.value.field) == (ErrorCode.PRODUCT_NOT_FOUND, "sku")


async def test_the_inventory_holds_stock_the_active_queue_open_inbound_and_the_supplier(store: Store):
    # given stock at two locations, an open and a received purchase order, and three backorders, one cancelled
    supplier = await _shop(store, on_hand=2)
    await store.desk.upsert_location("BACK")  # only a location the shop has set up takes stock
    await store.desk.receive_stock("MUG", 1, "BACK")
    await store.desk.create_purchase_order(supplier.id, TODAY + timedelta(days=6), [LineRequest("MUG", 4)],
                                           number="PO-OPEN")
    received = await store.desk.create_purchase_order(supplier.id, TODAY + timedelta(days=2),
                                                      [LineRequest("CUP", 2)], number="PO-DONE")
    await store.desk.receive_purchase_order(received.id)
    ann = await _order(store, "ann@example.com", 5)
    bob = await _order(store, "bob@example.com", 2)
    cat = await _order(store, "cat@example.com", 1)
    await store.desk.cancel_backorder(cat.lines[0].backorder_id or "")
    # when the aggregate is loaded
    async with store.uow() as uow:
        await uow.lock_skus(["MUG"])
        inventory = await uow.inventory("MUG")
        cup = await uow.inventory("CUP")
    # then it holds what the use cases need to allocate and project
    assert sorted((s.location, s.on_hand, s.allocated) for s in inventory.stock.values()) == [
        ("BACK", 1, 1), ("MAIN", 2, 2)]
    assert sorted(b.order_id for b in inventory.queue.values()) == sorted([ann.id, bob.id])
    assert [(i.reference, i.expected_date, i.quantity) for i in inventory.inbound] == [
        ("PO-OPEN", TODAY + timedelta(days=6), 4)]
    assert inventory.supplier is not None and inventory.supplier.id == supplier.id
    assert cup.inbound == [] and cup.supplier is None and cup.on_hand == 2


async def test_a_saved_inventory_keeps_its_stock_and_backorders_with_their_history(store: Store):
    await _shop(store, on_hand=1)
    order = await _order(store, "ann@example.com", 3)
    backorder_id = order.lines[0].backorder_id or ""
    await store.desk.receive_stock("MUG", 1)
    async with store.uow() as uow:
        inventory = await uow.inventory("MUG")
        backorder = inventory.queue[backorder_id]
        found = await uow.get_backorder(backorder_id)
    assert (inventory.on_hand, inventory.allocated) == (2, 2)
    assert found is not None
    assert (found.quantity, found.allocated_quantity, found.status, found.queue_position, found.eta) == (
        backorder.quantity, backorder.allocated_quantity, backorder.status, backorder.queue_position, backorder.eta)
    changes = [(h.kind, h.old_value, h.new_value) for h in found.history]
    assert changes[0] == ("STATUS", None, "WAITING")
    assert ("STATUS", "WAITING", "PARTIALLY_ALLOCATED") in changes
    async with store.uow() as uow:
        assert await uow.get_backorder("nope") is None


async def test_stale_etas_are_those_of_waiting_units_dated_before_today(store: Store):
    # given a backorder whose ETA comes from a purchase order due in three days
    supplier = await _shop(store)
    await store.desk.create_purchase_order(supplier.id, TODAY + timedelta(days=3), [LineRequest("MUG", 5)])
    await _order(store, "ann@example.com", 2)
    async with store.uow() as uow:
        # then it is stale only once that day has passed
        assert await uow.skus_with_stale_etas(datetime.combine(TODAY + timedelta(days=3), time(12), UTC)) == []
        assert await uow.skus_with_stale_etas(datetime.combine(TODAY + timedelta(days=4), time(12), UTC)) == ["MUG"]


async def test_a_latest_date_is_due_once_it_has_ended_where_its_customer_is(store: Store):
    # given two customers waiting for a PO due on their latest date, one in Tokyo and one in Los Angeles
    supplier = await _shop(store)
    due = TODAY + timedelta(days=3)
    await store.desk.create_purchase_order(supplier.id, due, [LineRequest("MUG", 5)])
    await store.set_timezone("tokyo@example.com", "Asia/Tokyo")
    await store.set_timezone("la@example.com", "America/Los_Angeles")
    tokyo = (await _order(store, "tokyo@example.com", 2)).lines[0].backorder_id or ""
    la = (await _order(store, "la@example.com", 2)).lines[0].backorder_id or ""
    await store.desk.set_backorder_preferences(tokyo, cancel_if_not_by=due)
    async with store.uow() as uow:
        # then at 16:00 UTC on that day (the ETA not yet stale) the SKU is due: Tokyo's day has ended
        assert await uow.skus_with_stale_etas(datetime.combine(due, time(16), UTC)) == ["MUG"]
        assert await uow.skus_with_stale_etas(datetime.combine(due, time(14), UTC)) == []
        inventory = await uow.inventory("MUG")
        # and the queue is loaded with the zone of each customer who has a date
        assert {b.id: b.customer_timezone for b in inventory.queue.values()} == {tokyo: "Asia/Tokyo", la: "UTC"}
    await store.desk.cancel_backorder(tokyo)
    await store.desk.set_backorder_preferences(la, cancel_if_not_by=due)
    async with store.uow() as uow:
        # Los Angeles' day ends at 07:00 UTC the next day (PDT in March); the stale ETA selects it from 00:00
        assert await uow.skus_with_stale_etas(datetime.combine(due, time(23), UTC)) == []
        assert (await uow.inventory("MUG")).queue[la].customer_timezone == "America/Los_Angeles"


# -- a placement's view of the queue ----------------------------------------------------------------
def _queue_summary(inventory: SkuInventory, today: date) -> tuple[int, int, str | None, str | None]:
    """(waiting backorders, waiting units, first, last in queue order) of what was there before this use case."""
    if inventory.ahead is not None:
        ahead = inventory.ahead
        return (ahead.waiting_count, ahead.waiting_units, ahead.head.id if ahead.head else None,
                ahead.tail.id if ahead.tail else None)
    ranked = inventory.ranked_queue(today)
    return (len(ranked), sum(b.waiting_quantity for b in ranked), ranked[0].id if ranked else None,
            ranked[-1].id if ranked else None)


async def test_the_queue_a_placement_reads_agrees_with_the_whole_queue(store: Store):
    # given a queue of waiting backorders, one reprioritised to the front
    await _shop(store)
    orders = [await _order(store, f"c{i}@example.com", i + 1) for i in range(4)]
    await store.desk.reprioritize_backorder(orders[2].lines[0].backorder_id or "", 5, "VIP", "kim")
    later = NOW + timedelta(minutes=5)
    # when a placement loads it (it may read a summary: the count, the units, the head and the tail)
    async with store.uow() as uow:
        await uow.lock_skus(["MUG"])
        await uow.load_inventories(["MUG"], appending_at=later)
        appending = await uow.inventory("MUG")
    async with store.uow() as uow:
        whole = await uow.inventory("MUG")
    # then what it reads agrees with the whole queue, read apart
    assert whole.ahead is None
    assert _queue_summary(appending, TODAY) == _queue_summary(whole, TODAY)
    assert _queue_summary(whole, TODAY)[2] == orders[2].lines[0].backorder_id  # the reprioritised one leads
    if appending.ahead is not None:  # a summary holds none of the backorders it sums up
        assert appending.queue == {}


# -- suppliers' delivery record ---------------------------------------------------------------------
async def test_suppliers_by_name_name_the_older_of_two_with_one_name(store: Store):
    older = await store.desk.upsert_supplier(None, "Acme", 10)
    await store.desk.upsert_supplier(None, "Acme", 12)
    other = await store.desk.upsert_supplier(None, "Other", 5)
    async with store.uow() as uow:
        assert await uow.supplier_ids_by_name(["Acme", "Other", "Nobody"]) == {"Acme": older.id, "Other": other.id}
        assert await uow.supplier_ids_by_name([]) == {}


def _in_order(counts: list[DelayCount]) -> list[DelayCount]:
    return sorted(counts, key=lambda c: (c.supplier_id, c.delay_days, c.delay_from_first_days))


async def test_recorded_deliveries_are_counted_per_supplier_and_delay_within_the_dates(store: Store):
    supplier = await _shop(store)
    promised = TODAY - timedelta(days=20)
    records = [DeliveryRecord(supplier.id, "MUG", 5, promised, promised, promised + timedelta(days=late),
                              promised - timedelta(days=10), "PO-1") for late in (0, 2, 2, -1)]
    records.append(DeliveryRecord(supplier.id, "CUP", 1, promised, promised + timedelta(days=3),
                                  promised + timedelta(days=4), None, "PO-2"))
    async with store.uow() as uow:
        await uow.record_deliveries("po-1", records)
        await uow.commit()
    window = (promised + timedelta(days=2), promised + timedelta(days=4))
    async with store.uow() as uow:
        everything, within = await uow.delay_counts(None, None), await uow.delay_counts(*window)
    # counted as the domain counts them, in no promised order; the dates bound the day received, both included
    assert _in_order(everything) == delay_counts(records)
    assert _in_order(within) == delay_counts(r for r in records if window[0] <= r.received_on <= window[1])


# -- customers' choices -----------------------------------------------------------------------------
async def test_the_backorders_waiting_with_a_consent_to_substitutes_oldest_first(store: Store):
    # given four waiting backorders: two consent in advance, one asks, one consents but is then cancelled
    await _shop(store)
    orders = [await _order(store, f"c{i}@example.com", 2) for i in range(4)]
    ids = [o.lines[0].backorder_id or "" for o in orders]
    for backorder_id, consent in zip(ids, [SubstituteConsent.SAME_PRICE_OR_LOWER, SubstituteConsent.ASK,
                                           SubstituteConsent.ANY_LISTED, SubstituteConsent.ANY_LISTED], strict=True):
        await store.desk.set_backorder_preferences(backorder_id, substitutes=consent)
    await store.desk.cancel_backorder(ids[3])
    async with store.uow() as uow:
        assert await uow.waiting_with_substitute_consent() == [(ids[0], "MUG"), (ids[2], "MUG")]
        # a customer who chose nothing starts a new backorder with the defaults
        assert await uow.backorder_defaults("nobody@example.com") == BackorderPreferences()
