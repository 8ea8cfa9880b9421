"""The live updates' fan-out (api/live.py) over real websockets: a socket that does not keep up is closed with 1013
and never holds the others up, each subscription on a socket gets its own id and ends alone, and every subscriber
gets its updates in the order they were committed, once each."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest
import websockets
from prometheus_client import REGISTRY

import api.live as live
from tests.api import support as s
from tests.api.customer_sessions import ANN, BOB, UPDATES, _shop, customers  # noqa: F401 - the fixture
from tests.api.statements import marked, statements_of
from tests.waiting import PATIENCE, eventually

# a long queue's change in either form, per-backorder events or one QueueChanged (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("both_event_forms")

KINDS = """subscription($sku: String) { backorderUpdates(filter: {sku: $sku}) { kind backorderId } }"""
# a large result per update (30 aliases), so that a socket that is not read fills its buffers after a few dozen
WIDE = "subscription($sku: String) { backorderUpdates(filter: {sku: $sku}) { kind backorderId " + " ".join(
    f"a{i}: backorder {{ id sku status quantity customerEmail queuePosition }}" for i in range(29)) + " } }"


async def _stalled(api: Any, query: str, variables: dict[str, Any]) -> Any:
    """A subscriber that stops reading at once: a tiny receive buffer, and the client library reads no further
    than one message ahead of a reader that never comes."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    port = int(api.base.rsplit(":", 1)[1])
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    before = api.bus.subscribers
    ws = await websockets.connect(f"{api.base.replace('http', 'ws')}/graphql", sock=sock, max_queue=1,
                                  subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {api.token}"}}))
    assert json.loads(await asyncio.wait_for(ws.recv(), PATIENCE))["type"] == "connection_ack"
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}}))
    await s.listening(api, before)
    return ws


# the table, or the view that shows a range still pending as folded (the "range recorded" form reads that)
HISTORY_READ = tuple(f"SELECT backorder_id, at, kind, old_value, new_value, cause, cause_data FROM \"{name}\""
                     for name in ("backorder_history", "backorder_history_now"))


def _hub_marked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The live updates' hub and the tasks it starts (the loaders' batches) send their statements as "hub"
    (tests/api/statements.py), so that what the background loops send meanwhile is not counted."""
    monkeypatch.setattr(live.LiveUpdates, "_run", marked("hub", live.LiveUpdates._run))


async def _settled(api: Any) -> None:
    """Every update offered to the hub has been read and sent: what a count of its statements waits for."""
    await eventually(lambda: api.hub.idle, what="the live updates' hub sends what it was offered")


async def _read_to_the_close(ws: Any) -> tuple[list[dict[str, Any]], int | None]:
    messages = []
    try:
        while True:
            messages.append(json.loads(await asyncio.wait_for(ws.recv(), PATIENCE)))
    except websockets.exceptions.ConnectionClosed:
        pass
    return messages, ws.close_code


@pytest.mark.api_settings(live_buffer_bytes=16 * 1024)
async def test_a_socket_that_stops_reading_is_closed_with_1013_and_the_others_get_every_update(api):
    # given a subscriber that reads, and one that stopped reading, both on MUG
    await s.product(api.desk, "MUG")
    others = api.bus.subscribers  # the in-process worker's listeners
    reader = await s.subscribe(api, KINDS, {"sku": "MUG"})
    stalled = await _stalled(api, WIDE, {"sku": "MUG"})
    try:
        # when orders keep coming: the stalled socket's unread updates pass 16 KiB
        placed: list[str] = []
        got: list[dict[str, Any]] = []
        for _ in range(150):
            [backorder] = s.backorder_ids(await s.order(api.desk, f"c{len(placed)}@example.com", ("MUG", 1)))
            placed.append(backorder)
            got.extend(await s.updates_until(reader, lambda seen: len(seen) >= 1))  # each at once, in turn
            if api.bus.subscribers == others + 1:
                break
        # then the server closed the stalled socket (its subscription left the bus), while the reader kept up
        assert api.bus.subscribers == others + 1, "the stalled socket was never closed"
        assert [u["backorderId"] for u in got] == placed
        [backorder] = s.backorder_ids(await s.order(api.desk, "after@example.com", ("MUG", 1)))
        assert [u["backorderId"] for u in await s.updates_until(reader, lambda seen: len(seen) >= 1)] == [backorder]
        # and the stalled client, reading at last, finds every update up to its close, in order, then the code
        messages, code = await _read_to_the_close(stalled)
        assert code == 1013, code
        assert [(m["type"], m["payload"]["data"]["backorderUpdates"]["backorderId"]) for m in messages] == [
            ("next", backorder) for backorder in placed]
    finally:
        await reader.close()
        await stalled.close()


@pytest.mark.api_settings(live_backlog=4)
async def test_more_updates_at_once_than_the_backlog_close_that_socket_alone(api):
    # given three waiting backorders for MUG, a subscriber on MUG and one on CUP
    dropped = REGISTRY.get_sample_value("backorder_live_updates_dropped_total") or 0.0
    await s.product(api.desk, "MUG")
    await s.product(api.desk, "CUP")
    for n in range(3):
        await s.order(api.desk, f"c{n}@example.com", ("MUG", 1))
    mug = await s.subscribe(api, KINDS, {"sku": "MUG"})
    cup = await s.subscribe(api, KINDS, {"sku": "CUP"})
    try:
        # when one receipt serves all three (9 updates for MUG at once: more than 4)
        await api.desk.receive_stock("MUG", 3)
        messages, code = await _read_to_the_close(mug)
        # then the MUG socket is closed with 1013 (and counted), and the CUP subscriber still hears of CUP
        assert code == 1013 and messages == []
        assert REGISTRY.get_sample_value("backorder_live_updates_dropped_total") == dropped + 1
        [backorder] = s.backorder_ids(await s.order(api.desk, "d@example.com", ("CUP", 1)))
        assert [u["backorderId"] for u in await s.updates_until(cup, lambda seen: len(seen) >= 1)] == [backorder]
    finally:
        await mug.close()
        await cup.close()


async def test_two_subscriptions_on_one_socket_have_their_own_ids_and_end_alone(api):
    # given one socket with two subscriptions ("mug" and "cup") and the same document
    await s.product(api.desk, "MUG")
    await s.product(api.desk, "CUP")
    before = api.bus.subscribers
    ws = await api.subscribe(KINDS, {"sku": "MUG"})
    try:
        await ws.send(json.dumps({"id": "cup", "type": "subscribe", "payload": {"query": KINDS,
                                                                             "variables": {"sku": "CUP"}}}))
        await ws.send(json.dumps({"id": "all", "type": "subscribe", "payload": {"query": KINDS}}))
        await eventually(lambda: api.bus.subscribers >= before + 3, what="the three subscriptions reach the bus")
        # when a MUG order and a CUP order are placed
        [mug] = s.backorder_ids(await s.order(api.desk, "a@example.com", ("MUG", 1)))
        [cup] = s.backorder_ids(await s.order(api.desk, "b@example.com", ("CUP", 1)))
        got = [json.loads(await asyncio.wait_for(ws.recv(), PATIENCE)) for _ in range(4)]
        # then each id gets its own, in commit order
        by_id = {(m["id"], m["payload"]["data"]["backorderUpdates"]["backorderId"]) for m in got}
        assert by_id == {("1", mug), ("all", mug), ("cup", cup), ("all", cup)}
        assert [m["payload"]["data"]["backorderUpdates"]["backorderId"] for m in got if m["id"] == "all"] == [mug, cup]
        # when the client completes "all": a ping is still answered, and "1" still streams, alone
        await ws.send(json.dumps({"id": "all", "type": "complete"}))
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), PATIENCE)) == {"type": "pong"}
        await eventually(lambda: api.bus.subscribers == before + 2, what="the completed subscription leaves the bus")
        [again] = s.backorder_ids(await s.order(api.desk, "c@example.com", ("MUG", 1)))
        assert json.loads(await asyncio.wait_for(ws.recv(), PATIENCE)) == {
            "id": "1", "type": "next", "payload": {"data": {"backorderUpdates": {"kind": "CREATED",
                                                                                 "backorderId": again}}}}
        assert await s.received(api, ws, idle=0.3) == []
    finally:
        await ws.close()


async def test_one_execution_per_kind_of_reader_and_no_reader_gets_anothers_result(api, customers, monkeypatch):  # noqa: F811
    # given three agents on one document, an agent on another, Ann twice (her account), Ann for one order, and Bob
    import api.live as live

    executions: list[tuple[str, bool]] = []
    execute = live._execute

    async def counted(subscription: Any, update: Any) -> str:
        executions.append((subscription.principal.role, subscription.principal.has_account))
        return await execute(subscription, update)

    monkeypatch.setattr(live, "_execute", counted)
    shop = await _shop(api)
    agents = [await s.subscribe(api, UPDATES) for _ in range(3)]
    other_document = await s.subscribe(api, KINDS)
    ann, ann_order_only, bob = customers(), customers(), customers()
    await ann.sign_in_with_link(ANN)
    await ann_order_only.sign_in_with_order(shop["first"].number, ANN)
    await bob.sign_in_with_link(BOB)
    anns = [await ann.subscribe(), await ann.subscribe()]
    one_order = await ann_order_only.subscribe()
    bobs = await bob.subscribe()
    sockets = [*agents, other_document, *anns, one_order, bobs]
    try:
        # when an agent cancels a unit of Ann's first order, with a reason meant for agents
        await api.gql("""mutation($id: ID!) { cancelBackorder(input: {id: $id, quantity: 1,
            reason: "fraud check"}) { userErrors { code } } }""", {"id": shop["ann_backorder"]})
        seen = [await s.received(api, ws) for ws in sockets]
    finally:
        for ws in sockets:
            await ws.close()
    by_agents, by_other_document, by_anns, by_one_order, by_bob = seen[:3], seen[3], seen[4:6], seen[6], seen[7]
    # then every reader of a kind got the same, each kind its own: agents the agent's words, customers not
    events = len(by_agents[0])
    assert events >= 1 and by_agents[0] == by_agents[1] == by_agents[2] and len(by_other_document) == events
    assert by_anns[0] == by_anns[1] and len(by_anns[0]) == len(by_one_order) >= 1
    assert "fraud check" in json.dumps(by_agents[0])
    assert "fraud check" not in json.dumps([by_anns, by_one_order])
    assert by_bob == []
    # and each kind's document was executed once per event, not once per subscriber
    assert sorted(executions) == sorted([("agent", True)] * events * 2 + [("customer", True)] * len(by_anns[0])
                                        + [("customer", False)] * len(by_one_order))


async def test_the_legacy_graphql_ws_protocol_still_streams_through_strawberrys_own_path(api):
    # given a client speaking the older graphql-ws protocol (no frames written for it: strawberry sends them)
    await s.product(api.desk, "MUG")
    before = api.bus.subscribers
    async with websockets.connect(f"{api.base.replace('http', 'ws')}/graphql",
                                  subprotocols=["graphql-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {api.token}"}}))
        assert json.loads(await asyncio.wait_for(ws.recv(), PATIENCE))["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "old", "type": "start", "payload": {"query": KINDS,
                                                                            "variables": {"sku": "MUG"}}}))
        await s.listening(api, before)
        # when two orders are placed: both arrive, in order, as graphql-ws "data" messages
        placed = [s.backorder_ids(await s.order(api.desk, f"{n}@example.com", ("MUG", 1)))[0] for n in "ab"]
        got = []
        while len(got) < 2:
            message = json.loads(await asyncio.wait_for(ws.recv(), PATIENCE))
            if message["type"] != "ka":  # the protocol's keep-alive
                got.append(message)
    assert [(m["type"], m["id"], m["payload"]["data"]["backorderUpdates"]["backorderId"]) for m in got] == [
        ("data", "old", backorder) for backorder in placed]


async def test_a_receipts_updates_read_their_backorders_in_a_fixed_number_of_statements(api, monkeypatch,
                                                                                       both_event_forms):
    # given a watcher of MUG's queue whose document reads the backorder, and queues of 2 and of 8 backorders
    await s.product(api.desk, "MUG")
    await s.product(api.desk, "CUP")
    for n in range(2):
        await s.order(api.desk, f"m{n}@example.com", ("MUG", 1))
    for n in range(8):
        await s.order(api.desk, f"c{n}@example.com", ("CUP", 1))
    document = "subscription { backorderUpdates { kind backorderId backorder { id status allocatedQuantity } } }"
    _hub_marked(monkeypatch)
    ws = await s.subscribe(api, document)
    counts = []
    try:
        for sku, served in (("MUG", 2), ("CUP", 8)):
            with statements_of("hub") as sent:
                # when a receipt serves the whole queue (an allocation, a status and an ETA for each)
                await api.desk.receive_stock(sku, served)
                updates = await s.updates_until(ws, lambda got, n=served: len(got) >= 3 * n)
                await _settled(api)
            assert {u["backorder"]["status"] for u in updates} == {"ALLOCATED"}
            # the table, by name or as readers see it with nothing pending (its places shown, migration 0029)
            counts.append(len([q for q in sent if '"backorders"' in q or '"backorders_placed"' in q]))
    finally:
        await ws.close()
    # then the live updates read the backorders once for the burst, not once per update
    # (a receipt recorded as a range: its backorders read back first, in at most three statements of its own, the
    # unfolded ones' rows and the folded ones' history and later quantity changes, whatever its size; how many of
    # them depends on how far the background fold got when the hub read)
    if both_event_forms == "range recorded":
        assert max(counts) <= 4, counts
    else:
        assert counts == [1, 1], counts


async def test_a_customers_burst_of_updates_reads_their_history_once_not_once_per_update(api, customers,  # noqa: F811
                                                                                        monkeypatch):
    # given Ann with 2 waiting backorders for MUG and 6 for CUP, watching in the portal (her document reads history)
    await s.product(api.desk, "MUG")
    await s.product(api.desk, "CUP")
    for sku, count in (("MUG", 2), ("CUP", 6)):
        for _ in range(count):
            await s.order(api.desk, ANN, (sku, 1))
    ann = customers()
    await ann.sign_in_with_link(ANN)
    _hub_marked(monkeypatch)
    ws = await ann.subscribe()
    counts = []
    try:
        for sku, served in (("MUG", 2), ("CUP", 6)):
            with statements_of("hub") as sent:  # the loaders' batches (tasks of their own) too
                # when a receipt serves them all (an allocation, a status and an ETA change for each)
                await api.desk.receive_stock(sku, served)
                updates = await s.updates_until(ws, lambda got, n=served: len(got) >= 3 * n)
                await _settled(api)
            assert all(u["backorder"]["history"] for u in updates)
            counts.append(len([q for q in sent if q.startswith(HISTORY_READ)]))
    finally:
        await ws.close()
    # then each burst read the history in one statement, however many updates it made
    assert counts == [1, 1], counts


async def test_updates_a_slow_hub_sends_after_the_readers_quiet_spell_are_still_read(api, monkeypatch):
    # given a hub that reads each burst for longer than `received`'s quiet spell, as on a loaded CI machine
    from api.schema import subscriptions

    read = subscriptions.Views.read

    async def slow(self: Any, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(1.0)  # sleep-ok: the slow server this test is about
        return await read(self, *args, **kwargs)

    monkeypatch.setattr(subscriptions.Views, "read", slow)
    await s.product(api.desk, "MUG")
    ws = await s.subscribe(api, KINDS, {"sku": "MUG"})
    try:
        # when an order is placed, then the update is read: its silence before the update is not taken for the end
        [backorder] = s.backorder_ids(await s.order(api.desk, "a@example.com", ("MUG", 1)))
        assert await s.received(api, ws) == [{"kind": "CREATED", "backorderId": backorder}]
    finally:
        await ws.close()
