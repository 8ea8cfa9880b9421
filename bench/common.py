"""What every benchmark shares: databases to run on, and one way to print a figure.

A figure is printed with its baseline measured in the same run, as a ratio, and with its target, so a
reader sees at once whether it is met. Results also go, one JSON object per line, to the file named by
BENCH_RESULTS (bench/__main__.py collects them into a table).
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
ORDER_SAMPLE = next((p for p in (ROOT / "../shared/data/online-retail-sample.csv.gz",
                                 Path("/work/shared/data/online-retail-sample.csv.gz")) if p.exists()), None)
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")  # smaller sizes, for a smoke run


@dataclass
class Figure:
    bench: str
    name: str
    value: float
    unit: str
    baseline: float | None = None  # same unit, measured in the same run
    baseline_name: str | None = None
    target: str | None = None
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0) or self.value == 0:
            return None
        return self.baseline / self.value if self.unit in ("s", "ms") else self.value / self.baseline


def report(figure: Figure) -> Figure:
    ratio = figure.ratio
    parts = [f"{figure.bench:<14} {figure.name:<46} {figure.value:>12,.3f} {figure.unit}"]
    if ratio is not None:
        parts.append(f"  {ratio:,.3g}x {figure.baseline_name} ({figure.baseline:,.3f} {figure.unit})")
    if figure.target:
        parts.append(f"  target {figure.target}: {'MET' if figure.met else 'NOT MET'}")
    if figure.note:
        parts.append(f"  [{figure.note}]")
    print("".join(parts), flush=True)
    out = os.environ.get("BENCH_RESULTS")
    if out:
        with open(out, "a") as f:
            f.write(json.dumps({**asdict(figure), "ratio": ratio}) + "\n")
    return figure


def machine() -> str:
    return f"{platform.node()}: {os.cpu_count()} cores, Python {sys.version.split()[0]}, {platform.platform()}"


class Timer:
    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def per_dialect(kinds: list[str], run: Callable[[str], Awaitable[None]]) -> None:
    """Run `run(kind)` for each dialect, each in its own process: tortoise caches compiled queries per
    model, so one process speaks one SQL dialect."""
    import asyncio
    import subprocess

    if len(kinds) == 1:
        asyncio.run(run(kinds[0]))
        return
    for kind in kinds or ["sqlite", "postgres"]:
        subprocess.run([sys.executable, "-m", sys.modules["__main__"].__spec__.name, kind], check=True)  # type: ignore[union-attr]


@asynccontextmanager
async def scratch_database(kind: str) -> AsyncIterator[str]:
    """A new, migrated database: `sqlite` (a file in /tmp) or `postgres` (created next to POSTGRES_URL)."""
    import asyncpg

    from domain.store.db import migrate

    if kind == "sqlite":
        path = Path(f"/tmp/bench-{secrets.token_hex(4)}.db")
        url = f"sqlite://{path}"
        if os.environ.get("BENCH_SQLITE_PRAGMAS"):  # an experiment: e.g. synchronous=NORMAL&journal_size_limit=-1
            url += "?" + os.environ["BENCH_SQLITE_PRAGMAS"]
        await migrate(url)
        try:
            yield url
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)  # noqa: ASYNC240 - at the end, nothing waits
        return
    name = f"bench_{secrets.token_hex(4)}"
    admin_dsn = POSTGRES_URL.replace("postgres://", "postgresql://", 1)
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    try:
        await migrate(url)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def free_port() -> int:
    """A free loopback port, for a server a benchmark starts (aiosmtpd's Controller cannot be given port 0: it
    connects to its own port to check it started)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_up(url: str, ok: tuple[int, ...] = (200,)) -> None:
    """Returns once `url` answers with a status in `ok` (a server a benchmark started is up)."""
    import asyncio

    import httpx

    async with httpx.AsyncClient() as http:
        for _ in range(300):
            try:
                if (await http.get(url)).status_code in ok:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")
