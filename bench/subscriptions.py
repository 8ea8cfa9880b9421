"""Subscriptions: 5,000 websocket subscribers to `backorderUpdates(filter: {sku})`, then one ETA change.

A real server (`backorder serve`, a subprocess: client and server do not share one event loop) on a
migrated SQLite database. The subscribers (graphql-transport-ws, token in the connection_init payload,
permessage-deflate offered as browsers do) all live in this process, connected 200 at a time. The
change is `updatePurchaseOrder` moving the expected date of the purchase order that covers the SKU's one
backorder: every subscriber gets one ETA_CHANGED. Latency is from just before the mutation is sent until a
subscriber has the frame, measured two ways (each the p50, p99 and max over the subscribers):

- at the socket (the target's figure): the bench's websocket clients stop reading, and a thread watches their
  sockets with epoll (edge-triggered), peeking (MSG_PEEK) at what arrived until the new date is in it. This is
  when the update reached the subscriber's machine; it leaves out this one Python process parsing 5,000
  frames in turn, which a subscriber (a browser on its own machine) does not wait for. Once the server wrote
  every frame in ~150 ms, the clients' parsing took a second and more on the shared 2 cores, and was the figure.
- read by the bench's Python client: a second change, read as before by each subscriber's websockets reader
  (its figures are the bench's own speed as much as the server's).

The protocol has no reply to `subscribe`: after connecting, the bench waits until the server stops using
CPU (every subscribe handled), and each measured change must then reach all N or the bench fails. The
first change after subscribing is the one measured at the socket. The server's CPU time (user + system, from
/proc) from the mutation until all N have it is reported beside each.

Baselines, in the same run: the same change to a single subscriber (the latency floor: HTTP, commit,
one delivery; median of 10); for memory (server RSS from /proc, before and after connecting, per
subscriber), a plain websocket to /graphql that never sends connection_init, on a separate fresh server
(memory that a process freed is reused, so measuring both on one server would blur them).

BENCH_BASELINE_TREE=/path/to/a/checkout: the same measurements on a server running that checkout's code
(`python -m api.cli serve` with it first on PYTHONPATH, its own database), run by run alternately with this
one, so that a change of the machine's load falls on both; its figures are printed as the baseline.

Then the scale-out profile: two servers on the same database with a Redis bus (a channel of their own),
half the subscribers on each, the mutation sent to server A; its baseline is the one-process figure (or,
with BENCH_BASELINE_TREE, the baseline code's two processes).

The one-process measurement is made BENCH_RUNS times (default 3) on the same server, each with N new
subscribers; its figures are the medians over the runs, the spread beside them, `uptime`'s load with each.

Target (issue 15): 5,000 subscribers on one process, p99 < 1 s in the median of 3 runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import select
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from bench.common import QUICK, REDIS_URL, Figure, Timer, free_port, report, scratch_database
from domain.store.db import open_database
from domain.store.tokens import create_token

N = 500 if QUICK else 5_000
RUNS = int(os.environ.get("BENCH_RUNS", "1" if QUICK else "3"))  # one-process runs; the figures are their medians
RAW = min(N, 1_000)  # bare websockets for the memory baseline
BATCH = 200
SKU = "BENCH-MUG"
TARGET_S = 1.0
BACKORDER = Path(sys.executable).with_name("backorder")
BASELINE_TREE = os.environ.get("BENCH_BASELINE_TREE") or None
UPDATES = """subscription($filter: BackorderUpdatesFilter) { backorderUpdates(filter: $filter) {
  kind backorderId oldEtaDate newEtaDate message backorder { id sku status eta { date source } } } }"""


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def uptime() -> str:
    """The load averages as `uptime` prints them (1, 5 and 15 minutes)."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


class Server:
    """`backorder serve` in a subprocess, its output in a temporary file (shown if it fails); with `tree`, that
    checkout's code (`python -m api.cli serve`, the checkout first on PYTHONPATH)."""

    def __init__(self, database_url: str, tree: str | None = None, **env: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.tree = tree
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("BACKORDER_")}
        if tree:
            inherited["PYTHONPATH"] = tree
        self.env = {**inherited, "BACKORDER_DATABASE_URL": database_url, **env}
        self.log = tempfile.NamedTemporaryFile(prefix="bench-serve-", suffix=".log")  # removed on close
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> Server:
        command = [sys.executable, "-m", "api.cli"] if self.tree else [str(BACKORDER)]
        self.process = await asyncio.create_subprocess_exec(
            *command, "serve", "--port", str(self.port), env=self.env, stdout=self.log,
            stderr=asyncio.subprocess.STDOUT, cwd=self.tree)
        async with httpx.AsyncClient() as client:
            for _ in range(600):
                if self.process.returncode is not None:
                    break
                try:
                    if (await client.get(f"{self.base}/healthz")).status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        tail = self.tail()
        await self.stop()
        raise RuntimeError(f"server did not start:\n{tail}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def cpu_ticks(self) -> int:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime

    def tail(self, lines: int = 30) -> str:
        return "\n".join(Path(self.log.name).read_text(errors="replace").splitlines()[-lines:])

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        self.log.close()


async def settle(*servers: Server, quiet: float = 0.3, within: float = 60) -> None:
    """Wait until the servers stop using CPU (at most 2 ticks of 10 ms in `quiet` seconds)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        before = [s.cpu_ticks() for s in servers]
        await asyncio.sleep(quiet)
        if all(s.cpu_ticks() - b <= 2 for s, b in zip(servers, before, strict=True)):
            return
    raise RuntimeError("the servers never went quiet")


class Round:
    """One ETA change: when it was sent, and when each subscriber had it (recognised by the new date)."""

    def __init__(self, marker: str, need: int) -> None:
        self.marker, self.need = marker, need
        self.t0 = 0.0
        self.arrivals: dict[int, float] = {}
        self.done = asyncio.Event()

    def latencies(self) -> list[float]:
        return sorted(t - self.t0 for t in self.arrivals.values())


class Listening:
    current: Round | None = None


class Subscriber:
    def __init__(self, index: int, listening: Listening) -> None:
        self.index, self.listening = index, listening
        self.ws: ClientConnection | None = None
        self.reader: asyncio.Task[None] | None = None
        self.last: str | bytes = ""
        self.errors: list[str] = []

    async def connect(self, base: str, token: str | None) -> None:
        """With a token: connection_init, ack, subscribe. Without: a bare websocket that says nothing."""
        protocols: Any = ["graphql-transport-ws"]
        self.ws = await connect(base.replace("http", "ws") + "/graphql", subprotocols=protocols, ping_interval=None,
                                open_timeout=60)
        if token is None:
            return
        await self.ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
        ack = json.loads(await asyncio.wait_for(self.ws.recv(), 60))
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"no connection_ack: {ack}")
        await self.ws.send(json.dumps({"id": "1", "type": "subscribe",
                                       "payload": {"query": UPDATES, "variables": {"filter": {"sku": SKU}}}}))
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.ws is not None
        async for raw in self.ws:
            now = time.perf_counter()
            current = self.listening.current
            if current is not None and current.marker in raw and self.index not in current.arrivals:
                current.arrivals[self.index] = now
                self.last = raw
                if len(current.arrivals) >= current.need:
                    current.done.set()
            elif '"ping"' in raw:
                await self.ws.send('{"type": "pong"}')
            elif '"next"' not in raw:
                self.errors.append(str(raw))

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
        if self.ws is not None:
            await self.ws.close()


class SocketWatch:
    """When a change reaches each subscriber's socket, not when this process gets round to parsing it: the
    clients' transports stop reading, and a thread waits on all their sockets with epoll (edge-triggered),
    peeking at what arrived (MSG_PEEK leaves it for the websockets client, which reads it once the watch ends)
    until the marker is in it. A ping or anything else that arrives first is looked at and waited past."""

    def __init__(self, subscribers: list[Subscriber], marker: str) -> None:
        self.marker = marker.encode()
        self.arrivals: dict[int, float] = {}
        self._subscribers = subscribers
        self._sockets: dict[int, tuple[int, socket.socket]] = {}
        self._epoll = select.epoll()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> SocketWatch:
        for subscriber in self._subscribers:
            assert subscriber.ws is not None
            subscriber.ws.transport.pause_reading()
            sock = subscriber.ws.transport.get_extra_info("socket").dup()
            self._sockets[sock.fileno()] = (subscriber.index, sock)
            self._epoll.register(sock.fileno(), select.EPOLLIN | select.EPOLLET)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.is_set() and len(self.arrivals) < len(self._sockets):
            for fd, _ in self._epoll.poll(0.05):
                index, sock = self._sockets[fd]
                if index in self.arrivals:
                    continue
                try:
                    seen = sock.recv(1 << 16, socket.MSG_PEEK | socket.MSG_DONTWAIT)
                except BlockingIOError:
                    continue
                if self.marker in seen:
                    self.arrivals[index] = time.perf_counter()
                    self._epoll.unregister(fd)

    async def wait(self, within: float) -> None:
        """Until every socket had it (the thread then ends) or `within` seconds."""
        await asyncio.to_thread(self._thread.join, within)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._epoll.close()
        for _, sock in self._sockets.values():
            sock.close()
        for subscriber in self._subscribers:
            assert subscriber.ws is not None
            subscriber.ws.transport.resume_reading()


async def connect_all(subscribers: list[Subscriber], bases: list[str], token: str | None) -> None:
    """Round-robin over the servers, BATCH at a time (no SYN flood)."""
    for start in range(0, len(subscribers), BATCH):
        batch = subscribers[start:start + BATCH]
        await asyncio.gather(*(s.connect(bases[s.index % len(bases)], token) for s in batch))


async def close_all(subscribers: list[Subscriber]) -> None:
    for start in range(0, len(subscribers), 500):
        await asyncio.gather(*(s.close() for s in subscribers[start:start + 500]), return_exceptions=True)


class Shop:
    """The data, made through the API: a supplier, a product with no stock, a purchase order, one order
    whose line is backordered (its ETA is the purchase order's date)."""

    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http, self.token = http, token
        self.po_id = ""
        self.day = date.today() + timedelta(days=30)

    async def gql(self, base: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = await self.http.post(f"{base}/graphql", json={"query": query, "variables": variables},
                                        headers={"Authorization": f"Bearer {self.token}"})
        body = response.json()
        if "errors" in body:
            raise RuntimeError(body["errors"])
        payload = next(iter(body["data"].values()))
        if payload.get("userErrors"):
            raise RuntimeError(payload["userErrors"])
        return payload  # type: ignore[no-any-return]

    async def setup(self, base: str) -> None:
        supplier = await self.gql(base, """mutation($input: UpsertSupplierInput!) { upsertSupplier(input: $input) {
            supplier { id } userErrors { message } } }""", {"input": {"name": "Bench Supplier"}})
        await self.gql(base, """mutation($input: UpsertProductInput!) { upsertProduct(input: $input) {
            product { sku } userErrors { message } } }""",
                       {"input": {"sku": SKU, "name": "Bench mug", "price": {"amount": "9.90"}}})
        po = await self.gql(base, """mutation($input: CreatePurchaseOrderInput!) { createPurchaseOrder(input: $input) {
            purchaseOrder { id } userErrors { message } } }""",
                            {"input": {"supplierId": supplier["supplier"]["id"], "expectedDate": self.day.isoformat(),
                                       "lines": [{"sku": SKU, "quantity": 10}]}})
        self.po_id = po["purchaseOrder"]["id"]
        placed = await self.gql(base, """mutation($input: PlaceOrderInput!) { placeOrder(input: $input) {
            backorders { id } userErrors { message } } }""",
                                {"input": {"customer": {"email": "ann@example.com"}, "channel": "ONLINE",
                                           "lines": [{"sku": SKU, "quantity": 2}]}})
        assert len(placed["backorders"]) == 1, placed

    async def move(self, base: str, listening: Listening, need: int, within: float = 60,
                   watch: list[Subscriber] | None = None) -> tuple[Round, dict[int, float]]:
        """One ETA change (a date not used before), until `need` subscribers have it or `within` s; with `watch`,
        also when it reached each of their sockets (the readers catch up once the watch ends)."""
        self.day += timedelta(days=1)
        listening.current = current = Round(f"{self.day.isoformat()}", need)
        at_socket: dict[int, float] = {}
        with contextlib.ExitStack() as stack:
            watching = stack.enter_context(SocketWatch(watch, current.marker)) if watch else None
            current.t0 = time.perf_counter()
            await self.gql(base, """mutation($input: UpdatePurchaseOrderInput!) { updatePurchaseOrder(input: $input) {
                purchaseOrder { expectedDate } userErrors { message } } }""",
                           {"input": {"id": self.po_id, "expectedDate": self.day.isoformat()}})
            if watching is not None:
                await watching.wait(within)
                at_socket = dict(watching.arrivals)
        try:
            await asyncio.wait_for(current.done.wait(), within)
        except TimeoutError:
            pass
        listening.current = None
        return current, at_socket


async def floor(shop: Shop, listen: Server, send: Server, token: str, rounds: int = 10) -> float:
    """One subscriber: the median latency of `rounds` changes (after one not counted)."""
    listening = Listening()
    one = [Subscriber(0, listening)]
    await connect_all(one, [listen.base], token)
    await settle(listen, send)
    await shop.move(send.base, listening, 1)
    samples = []
    for _ in range(rounds):
        current, _ = await shop.move(send.base, listening, 1, within=10)
        assert len(current.arrivals) == 1, "the single subscriber missed a change"
        samples.extend(current.latencies())
    await close_all(one)
    return statistics.median(samples)


async def subscribe_many(servers: list[Server], token: str) -> tuple[list[Subscriber], Listening, float]:
    """N subscribers over the servers, then until the servers go quiet: every subscribe has been handled
    (the protocol has no reply to it; the measured change must then reach all N, or the bench fails)."""
    listening = Listening()
    subscribers = [Subscriber(i, listening) for i in range(N)]
    with Timer() as timer:
        await connect_all(subscribers, [s.base for s in servers], token)
        await settle(*servers)
    return subscribers, listening, timer.seconds


def percentiles(latencies: list[float]) -> dict[str, float]:
    last = len(latencies) - 1
    return {"p50": latencies[last // 2], "p99": latencies[min(last, int(len(latencies) * 0.99))], "max": latencies[-1]}


@dataclass
class Measured:
    """One change to N subscribers: latency at the socket and as read by the Python client, server CPU for each."""

    at_socket: dict[str, float]
    read: dict[str, float]
    cpu_socket_ms: float
    cpu_read_ms: float
    load: str


async def measure(shop: Shop, send: Server, servers: list[Server], token: str) -> Measured:
    """N new subscribers; the first change watched at the sockets, a second read by the Python clients."""
    subscribers, listening, _ = await subscribe_many(servers, token)
    try:
        at_load = load()
        ticks = sum(s.cpu_ticks() for s in servers)
        first, at_socket = await shop.move(send.base, listening, N, watch=subscribers)
        cpu_socket = sum(s.cpu_ticks() for s in servers) - ticks
        errors = [e for s in subscribers for e in s.errors][:3]
        assert len(at_socket) == N, f"only {len(at_socket)} of {N} sockets had the change; {errors}"
        assert len(first.arrivals) == N, f"only {len(first.arrivals)} of {N} read the change; {errors}"
        payload = json.loads(subscribers[-1].last)["payload"]["data"]["backorderUpdates"]
        assert payload["kind"] == "ETA_CHANGED" and payload["backorder"]["eta"]["date"] == shop.day.isoformat()
        await settle(*servers)
        ticks = sum(s.cpu_ticks() for s in servers)
        second, _ = await shop.move(send.base, listening, N)
        cpu_read = sum(s.cpu_ticks() for s in servers) - ticks
        assert len(second.arrivals) == N, f"only {len(second.arrivals)} of {N} read the second change"
    finally:
        await close_all(subscribers)
    hz = os.sysconf("SC_CLK_TCK")
    sockets = sorted(at - first.t0 for at in at_socket.values())
    return Measured(percentiles(sockets), percentiles(second.latencies()), cpu_socket * 1000 / hz,
                    cpu_read * 1000 / hz, at_load)


@dataclass
class Side:
    """One code under test: its own database, server(s) and data."""

    name: str
    tree: str | None
    url: str = ""
    token: str = ""
    shop: Shop | None = None
    server: Server | None = None
    runs: list[Measured] = field(default_factory=list)
    floor_s: float = 0.0
    rss_per_subscriber: float = 0.0


def medians(runs: list[Measured], which: str) -> dict[str, float]:
    return {stat: statistics.median(getattr(r, which)[stat] for r in runs) for stat in ("p50", "p99", "max")}


def spread(runs: list[Measured], which: str, stat: str = "p99") -> str:
    values = sorted(getattr(r, which)[stat] * 1000 for r in runs)
    return f"{values[0]:,.0f}-{values[-1]:,.0f} ms"


def report_side(side: Side, baseline: Side | None) -> None:
    runs = side.runs
    loads = ", ".join(r.load for r in runs)
    for which, label in (("at_socket", "at the socket"), ("read", "read by the Python client")):
        stats = medians(runs, which)
        base = medians(baseline.runs, which) if baseline else dict.fromkeys(stats, side.floor_s)
        base_name = f"{baseline.name} (same runs, alternated)" if baseline else "1 subscriber"
        for stat in ("p50", "p99", "max"):
            report(Figure("subscriptions", f"{stat} latency {label}, {N:,} subscribers, 1 process, {side.name}",
                          stats[stat] * 1000, "ms", baseline=base[stat] * 1000, baseline_name=base_name,
                          target="< 1 s" if stat == "p99" and which == "at_socket" else None,
                          met=stats[stat] < TARGET_S if stat == "p99" and which == "at_socket" else None,
                          note=f"median of {len(runs)} runs (p99 {spread(runs, which)}; load {loads})"))
    for which in ("cpu_socket_ms", "cpu_read_ms"):
        values = [getattr(r, which) for r in runs]
        base_values = [getattr(r, which) for r in baseline.runs] if baseline else None
        report(Figure("subscriptions", f"server CPU for one change to {N:,} subscribers, {side.name}"
                      + (" (2nd change)" if which == "cpu_read_ms" else ""), statistics.median(values), "ms",
                      baseline=statistics.median(base_values) if base_values else None,
                      baseline_name=baseline.name if baseline else None,
                      note=f"median of {len(values)} runs ({min(values):,.0f}-{max(values):,.0f} ms): the mutation, "
                           "the fan-out and every socket write"))


async def one_process(sides: list[Side]) -> None:
    for side in sides:
        side.server = await Server(side.url, side.tree).start()
        assert side.shop is not None
        await side.shop.setup(side.server.base)
        side.floor_s = await floor(side.shop, side.server, side.server, side.token)
    try:
        for run in range(RUNS):  # alternately, so that the machine's load falls on every side alike
            for side in sides:
                assert side.server is not None and side.shop is not None
                await settle(side.server)
                before = side.server.rss_kib()
                measured = await measure(side.shop, side.server, [side.server], side.token)
                if run == 0:
                    side.rss_per_subscriber = (side.server.rss_kib() - before) / N  # still connected: see measure
                side.runs.append(measured)
                print(f"  run {run + 1}, {side.name}: at the socket " + ", ".join(
                    f"{k} {v * 1000:,.0f} ms" for k, v in measured.at_socket.items())
                    + f", server CPU {measured.cpu_socket_ms:,.0f} ms; read by Python p99 "
                    f"{measured.read['p99'] * 1000:,.0f} ms, server CPU {measured.cpu_read_ms:,.0f} ms "
                    f"(load {measured.load}; uptime: {uptime()})", flush=True)
    finally:
        for side in sides:
            if side.server is not None:
                await side.server.stop()


async def memory(side: Side) -> float:
    raw_server = await Server(side.url, side.tree).start()  # the memory baseline, on a fresh process
    try:
        raw = [Subscriber(i, Listening()) for i in range(RAW)]
        await settle(raw_server)
        before = raw_server.rss_kib()
        await connect_all(raw, [raw_server.base], None)
        await settle(raw_server)
        per_raw = (raw_server.rss_kib() - before) / RAW
        await close_all(raw)
    finally:
        await raw_server.stop()
    return per_raw


async def two_processes(side: Side) -> Measured:
    env = {"BACKORDER_REDIS_URL": REDIS_URL, "BACKORDER_REDIS_CHANNEL": f"bench:{secrets.token_hex(6)}"}
    a = await Server(side.url, side.tree, **env).start()
    b = await Server(side.url, side.tree, **env).start()  # one after the other: both apply migrations on start
    assert side.shop is not None
    try:
        floor_s = await floor(side.shop, b, a, side.token, rounds=5)
        measured = await measure(side.shop, a, [a, b], side.token)
    finally:
        await a.stop()
        await b.stop()
    print(f"  2 processes + Redis, {side.name}: at the socket " + ", ".join(
        f"{k} {v * 1000:,.0f} ms" for k, v in measured.at_socket.items())
        + f", CPU of both {measured.cpu_socket_ms:,.0f} ms; read by Python p99 {measured.read['p99'] * 1000:,.0f} ms "
        f"(load {measured.load}; 1 subscriber on B: {floor_s * 1000:.1f} ms)", flush=True)
    return measured


async def redis_ready() -> None:
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError

    client = aioredis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisError, OSError) as error:
        raise SystemExit(f"the two-process figures need Redis at {REDIS_URL} (BENCH_REDIS_URL): {error}") from error
    finally:
        await client.aclose()


async def main() -> None:
    await redis_ready()
    sides = [Side("this code", None)] + ([Side(f"baseline {BASELINE_TREE}", BASELINE_TREE)] if BASELINE_TREE else [])
    async with contextlib.AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=60))
        for side in sides:
            side.url = await stack.enter_async_context(scratch_database("sqlite"))
            async with open_database(side.url, apply_migrations=False):
                _, side.token = await create_token("bench agent", "agent")
            side.shop = Shop(http, side.token)
        print(f"  uptime: {uptime()}", flush=True)
        await one_process(sides)
        this, baseline = sides[0], (sides[1] if len(sides) > 1 else None)
        report_side(this, baseline)
        if baseline is not None:
            report_side(baseline, None)
        for side in sides:
            per_raw = await memory(side)
            report(Figure("subscriptions", f"server RSS per idle subscriber ({N:,}), {side.name}",
                          side.rss_per_subscriber, "KiB", baseline=per_raw, baseline_name="bare websocket",
                          note=f"(VmRSS after - before) / N; baseline: {RAW:,} websockets that never send "
                               "connection_init, on a fresh server"))
        scaled = [(side, await two_processes(side)) for side in sides]
        for side, measured in scaled:
            one = medians(side.runs, "at_socket")
            base = scaled[1][1].at_socket if baseline is not None and side is this else one
            base_name = "the baseline's 2 processes" if baseline is not None and side is this else "1 process (median)"
            for stat in ("p50", "p99", "max"):
                report(Figure("subscriptions", f"{stat} latency at the socket, {N:,} subscribers, 2 processes + "
                              f"Redis, {side.name}", measured.at_socket[stat] * 1000, "ms",
                              baseline=base[stat] * 1000, baseline_name=base_name,
                              target="< 1 s" if stat == "p99" else None,
                              met=measured.at_socket[stat] < TARGET_S if stat == "p99" else None,
                              note=f"one run; half on each, change sent to A; read by Python p99 "
                                   f"{measured.read['p99'] * 1000:,.0f} ms; CPU of both servers "
                                   f"{measured.cpu_socket_ms:,.0f} ms; load {measured.load}"))


if __name__ == "__main__":
    asyncio.run(main())
