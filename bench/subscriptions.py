"""Subscriptions: 5,000 websocket subscribers to `backorderUpdates(filter: {sku})`, then one ETA change.

A real server (`backorder serve`, a subprocess: client and server do not share one event loop) on a
migrated SQLite database. The subscribers (graphql-transport-ws, token in the connection_init payload,
permessage-deflate offered as browsers do) all live in this process, connected 200 at a time. The
change is `updatePurchaseOrder` moving the expected date of the purchase order that covers the SKU's one
backorder: every subscriber gets one ETA_CHANGED. Latency is from just before the mutation is sent until
a subscriber's reader has the frame; the figures are its p50, p99 and max over the subscribers.

The protocol has no reply to `subscribe`: after connecting, the bench waits until the server stops using
CPU (every subscribe handled), and the measured change must then reach all N or the bench fails. That
change is the first the subscribers get.

Baselines, in the same run: the same change to a single subscriber (the latency floor: HTTP, commit,
one delivery; median of 10); for memory (server RSS from /proc, before and after connecting, per
subscriber), a plain websocket to /graphql that never sends connection_init, on a separate fresh server
(memory that a process freed is reused, so measuring both on one server would blur them).

Then the scale-out profile: two servers on the same database with a Redis bus (a channel of their own),
half the subscribers on each, the mutation sent to server A; its baseline is the one-process figure.

The one-process measurement is made BENCH_RUNS times (default 3) on the same server, each with N new
subscribers; its figures are the medians over the runs, the spread beside them.

Target (issue 15): 5,000 subscribers on one process, p99 < 1 s in the median of 3 runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
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
UPDATES = """subscription($filter: BackorderUpdatesFilter) { backorderUpdates(filter: $filter) {
  kind backorderId oldEtaDate newEtaDate message backorder { id sku status eta { date source } } } }"""


class Server:
    """`backorder serve` in a subprocess, its output in a temporary file (shown if it fails)."""

    def __init__(self, database_url: str, **env: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("BACKORDER_")}
        self.env = {**inherited, "BACKORDER_DATABASE_URL": database_url, **env}
        self.log = tempfile.NamedTemporaryFile(prefix="bench-serve-", suffix=".log")  # removed on close
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> Server:
        self.process = await asyncio.create_subprocess_exec(
            str(BACKORDER), "serve", "--port", str(self.port), env=self.env, stdout=self.log,
            stderr=asyncio.subprocess.STDOUT)
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

    async def move(self, base: str, listening: Listening, need: int, within: float = 60) -> Round:
        """One ETA change (a date not used before), until `need` subscribers have it or `within` s."""
        self.day += timedelta(days=1)
        listening.current = current = Round(f"{self.day.isoformat()}", need)
        current.t0 = time.perf_counter()
        await self.gql(base, """mutation($input: UpdatePurchaseOrderInput!) { updatePurchaseOrder(input: $input) {
            purchaseOrder { expectedDate } userErrors { message } } }""",
                       {"input": {"id": self.po_id, "expectedDate": self.day.isoformat()}})
        try:
            await asyncio.wait_for(current.done.wait(), within)
        except TimeoutError:
            pass
        listening.current = None
        return current


async def floor(shop: Shop, listen: Server, send: Server, token: str, rounds: int = 10) -> float:
    """One subscriber: the median latency of `rounds` changes (after one not counted)."""
    listening = Listening()
    one = [Subscriber(0, listening)]
    await connect_all(one, [listen.base], token)
    await settle(listen, send)
    await shop.move(send.base, listening, 1)
    samples = []
    for _ in range(rounds):
        current = await shop.move(send.base, listening, 1, within=10)
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


async def reached_all(shop: Shop, base: str, listening: Listening, subscribers: list[Subscriber]) -> Round:
    current = await shop.move(base, listening, N)
    errors = [e for s in subscribers for e in s.errors][:3]
    assert len(current.arrivals) == N, f"only {len(current.arrivals)} of {N} had the change; {errors}"
    return current


def percentiles(latencies: list[float]) -> dict[str, float]:
    last = len(latencies) - 1
    return {"p50": latencies[last // 2], "p99": latencies[min(last, int(len(latencies) * 0.99))], "max": latencies[-1]}


def report_latency(stats: dict[str, float], baselines: dict[str, float], label: str, note: str,
                   baseline_name: str) -> None:
    for stat in ("p50", "p99", "max"):
        ms, base_ms = stats[stat] * 1000, baselines[stat] * 1000
        report(Figure("subscriptions", f"{stat} latency, {N:,} subscribers, {label}", ms, "ms", baseline=base_ms,
                      baseline_name=baseline_name, target="< 1 s" if stat == "p99" else None,
                      met=stats[stat] < TARGET_S if stat == "p99" else None, note=note))


async def one_process(url: str, shop: Shop, token: str) -> dict[str, float]:
    server = await Server(url).start()
    runs: list[tuple[dict[str, float], str]] = []  # each: N subscribe, one change reaches them all, they leave
    per_subscriber = connecting = 0.0
    cpu_ms: list[float] = []  # the server's CPU time (user + system) from the mutation sent until all N have it
    try:
        await shop.setup(server.base)
        floor_s = await floor(shop, server, server, token)
        for run in range(RUNS):
            await settle(server)
            before = server.rss_kib()
            subscribers, listening, connecting = await subscribe_many([server], token)
            if run == 0:
                per_subscriber = (server.rss_kib() - before) / N
            load = f"{os.getloadavg()[0]:.1f}"
            ticks = server.cpu_ticks()
            current = await reached_all(shop, server.base, listening, subscribers)
            cpu_ms.append((server.cpu_ticks() - ticks) * 1000 / os.sysconf("SC_CLK_TCK"))
            payload = json.loads(subscribers[-1].last)["payload"]["data"]["backorderUpdates"]
            assert payload["kind"] == "ETA_CHANGED" and payload["backorder"]["eta"]["date"] == shop.day.isoformat()
            await close_all(subscribers)
            runs.append((percentiles(current.latencies()), load))
            print(f"  run {run + 1}: " + ", ".join(f"{k} {v * 1000:,.0f} ms" for k, v in runs[-1][0].items())
                  + f", server CPU {cpu_ms[-1]:,.0f} ms (load {load})", flush=True)
    finally:
        await server.stop()

    raw_server = await Server(url).start()  # the memory baseline, on a fresh process
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

    stats = {stat: statistics.median(r[stat] for r, _ in runs) for stat in ("p50", "p99", "max")}
    p99s = sorted(r["p99"] * 1000 for r, _ in runs)
    report_latency(stats, dict.fromkeys(stats, floor_s), "1 process",
                   note=f"median of {len(runs)} runs (p99 {p99s[0]:,.0f}-{p99s[-1]:,.0f} ms; load "
                        f"{', '.join(load for _, load in runs)}), each the first change after {N:,} subscribed; "
                        "baseline: median of 10 changes to 1 subscriber", baseline_name="1 subscriber")
    report(Figure("subscriptions", f"server CPU for one change to {N:,} subscribers", statistics.median(cpu_ms), "ms",
                  note=f"median of {len(cpu_ms)} runs ({min(cpu_ms):,.0f}-{max(cpu_ms):,.0f} ms): the mutation, the "
                       "fan-out and every socket write; on a machine shared at load L the latency is about this times "
                       "the share of a core the server gets"))
    report(Figure("subscriptions", f"server RSS per idle subscriber ({N:,})", per_subscriber, "KiB",
                  baseline=per_raw, baseline_name="bare websocket",
                  note=f"(VmRSS after - before) / N; {N:,} subscribed in {connecting:.1f} s; baseline: {RAW:,} "
                  "websockets that never send connection_init, on a fresh server"))
    return stats


async def two_processes(url: str, shop: Shop, token: str, one: dict[str, float]) -> None:
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError

    client = aioredis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisError, OSError) as error:
        raise SystemExit(f"the two-process figures need Redis at {REDIS_URL} (BENCH_REDIS_URL): {error}") from error
    finally:
        await client.aclose()
    env = {"BACKORDER_REDIS_URL": REDIS_URL, "BACKORDER_REDIS_CHANNEL": f"bench:{secrets.token_hex(6)}"}
    a = await Server(url, **env).start()
    b = await Server(url, **env).start()  # one after the other: both apply migrations on start
    try:
        floor_s = await floor(shop, b, a, token, rounds=5)
        subscribers, listening, _ = await subscribe_many([a, b], token)
        current = await reached_all(shop, a.base, listening, subscribers)
        await close_all(subscribers)
    finally:
        await a.stop()
        await b.stop()
    stats = percentiles(current.latencies())
    report_latency(stats, one, "2 processes + Redis", baseline_name="1 process (median)",
                   note=f"one run; half on each, change sent to A; 1 subscriber on B: {floor_s * 1000:.1f} ms; "
                        f"load {os.getloadavg()[0]:.1f}")


async def main() -> None:
    async with scratch_database("sqlite") as url:
        async with open_database(url, apply_migrations=False):
            _, token = await create_token("bench agent", "agent")
        async with httpx.AsyncClient(timeout=60) as http:
            shop = Shop(http, token)
            one = await one_process(url, shop, token)
            await two_processes(url, shop, token, one)


if __name__ == "__main__":
    asyncio.run(main())
