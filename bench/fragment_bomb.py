"""Fragment bomb (issue 16): a 40-level document of fragments that each spread the next twice, sent anonymously
to a real `backorder serve` process, against `{ __typename }` sent the same way in the same run; and `/healthz`
while bombs arrive back to back, against `/healthz` with nothing else to do. Targets: the bomb refused in
under 50 ms; `/healthz` under 20 ms meanwhile. (Before: 22 levels froze the server for 10 s, 40 for over 300 s.)
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import QUICK, Figure, free_port, report, wait_up

ROUNDS = 20 if QUICK else 100


def fragment_bomb(levels: int) -> str:
    fragments = " ".join(f"fragment F{i} on Viewer {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels))
    return f"{{ viewer {{ ...F0 }} }} {fragments} fragment F{levels} on Viewer {{ name }}"


async def _timed(client: httpx.AsyncClient, method: str, url: str, **kwargs: object) -> float:
    started = time.perf_counter()
    response = await client.request(method, url, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text[:200]
    return time.perf_counter() - started


async def main() -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "BACKORDER_DATABASE_URL": f"sqlite://{Path(scratch) / 'bench.db'}",
               "BACKORDER_INPROCESS_WORKER": "0", "BACKORDER_ENV": "production"}
        command = [str(Path(sys.executable).parent / "backorder"), "serve", "--port", str(port)]
        server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: ASYNC220
        try:
            await wait_up(f"{base}/healthz")
            bomb = {"query": fragment_bomb(40)}
            plain = {"query": "{ __typename }"}
            async with httpx.AsyncClient(timeout=30) as client:
                for body in (bomb, plain):  # warm-up
                    await _timed(client, "POST", f"{base}/graphql", json=body)
                plain_times = [await _timed(client, "POST", f"{base}/graphql", json=plain) for _ in range(ROUNDS)]
                bomb_times = [await _timed(client, "POST", f"{base}/graphql", json=bomb) for _ in range(ROUNDS)]
                quiet = [await _timed(client, "GET", f"{base}/healthz") for _ in range(ROUNDS)]
                stop = asyncio.Event()

                async def bombard() -> None:
                    while not stop.is_set():
                        await _timed(client, "POST", f"{base}/graphql", json=bomb)

                bombers = [asyncio.create_task(bombard()) for _ in range(4)]
                busy = [await _timed(client, "GET", f"{base}/healthz") for _ in range(ROUNDS)]
                stop.set()
                await asyncio.gather(*bombers)
        finally:
            server.terminate()
            server.wait(10)
    refused = statistics.median(bomb_times) * 1000
    report(Figure("fragment_bomb", "40-level bomb refused (median, HTTP)", refused, "ms",
                  statistics.median(plain_times) * 1000, "{ __typename }", "< 50 ms", refused < 50))
    health = statistics.median(busy) * 1000
    report(Figure("fragment_bomb", "/healthz while 4 clients send bombs (median)", health, "ms",
                  statistics.median(quiet) * 1000, "/healthz alone", "< 20 ms", health < 20))


if __name__ == "__main__":
    asyncio.run(main())
