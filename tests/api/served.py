"""`backorder serve` as a real subprocess on a free loopback port (for what only a whole process shows: its
log output, its metrics, several processes), with helpers to talk to it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.api.conftest import free_port
from tests.waiting import eventually_sync

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ('mutation { upsertProduct(input: {sku: "MUG", name: "Mug", price: {amount: "9.50"}}) '
           '{ userErrors { code } } }')


def cli(db_url: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "BACKORDER_DATABASE_URL": db_url, **(env or {})})


def agent_token(db_url: str, role: str = "agent") -> str:
    made = cli(db_url, "token", "create", "--role", role, "--name", f"served {role}")
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


@dataclass
class Served:
    base: str
    log: Path

    def lines(self) -> list[str]:
        return self.log.read_text().splitlines()


@contextmanager
def served(db_url: str, tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[Served]:
    port = free_port()
    log = tmp_path / f"serve-{port}.log"
    environment = {**os.environ, "BACKORDER_DATABASE_URL": db_url, "BACKORDER_COALESCE_SECONDS": "0",
                   **(env or {})}
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port), *args],
                                   cwd=ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        def healthy() -> bool:  # a loaded 2-core CI machine starts a server in 5-15 s
            if process.poll() is not None:
                raise AssertionError(f"serve exited\n{log.read_text()}")
            return httpx.get(f"{base}/healthz", timeout=2).status_code == 200

        try:
            eventually_sync(healthy, what="serve comes up", ignoring=(httpx.TransportError,))
        except AssertionError as error:
            raise AssertionError(f"{error}\n{log.read_text()}") from None
        yield Served(base, log)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
