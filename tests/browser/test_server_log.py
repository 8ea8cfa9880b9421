"""What `backorder serve` writes to its log while a customer signs in with a portal link: read from the
real process's output, not from a logger the test set up. Link tokens never reach it; an anonymous
visit is not an error."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
from playwright.async_api import expect

from tests.api.conftest import free_port
from tests.waiting import eventually_sync

ROOT = Path(__file__).resolve().parents[2]
BACKORDER = Path(sys.executable).parent / "backorder"


def start_server(db: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "BACKORDER_DATABASE_URL": f"sqlite://{db}", "BACKORDER_INPROCESS_WORKER": "0"}
    with log.open("wb") as out:
        process = subprocess.Popen([str(BACKORDER), "serve", "--demo", "--port", str(port)], cwd=ROOT, env=env,
                                   stdout=out, stderr=subprocess.STDOUT)

    def healthy() -> bool:
        assert process.poll() is None, log.read_text()
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200

    try:
        eventually_sync(healthy, what="serve starts", ignoring=(httpx.HTTPError,))
    except AssertionError:
        process.terminate()
        raise AssertionError(f"serve did not start: {log.read_text()}") from None
    return process


async def test_a_portal_sign_in_leaves_no_token_in_the_server_log(browser, tmp_path):
    db, log, port = tmp_path / "backorder.db", tmp_path / "serve.log", free_port()
    process = start_server(db, port, log)
    try:
        base = f"http://127.0.0.1:{port}"
        printed = await asyncio.to_thread(
            subprocess.run, [str(BACKORDER), "portal-link", "ann.baker@example.com", "--base-url", base], cwd=ROOT,
            env={**os.environ, "BACKORDER_DATABASE_URL": f"sqlite://{db}"}, capture_output=True, text=True, check=True)
        link = printed.stdout.split()[0]
        token = link.split("token=", 1)[1]
        page = await (await browser.new_context(locale="en-GB")).new_page()
        await page.goto(base + "/")  # an anonymous visit first
        await expect(page.locator("#sign-in")).to_be_visible()
        await page.goto(link)
        await expect(page.get_by_test_id("order").first).to_be_visible()
        # a link in the old form (token in the query), and an unsubscribe link: the log redacts both
        async with httpx.AsyncClient() as client:
            await client.get(f"{base}/?token=old-form-secret-1&lang=de")
            await client.get(f"{base}/unsubscribe?token=unsubscribe-secret-2")
    finally:
        process.terminate()
        process.wait(15)
    output = log.read_text()
    assert '"GET / HTTP/1.1" 200' in output  # the access log is there, and was read
    assert '"GET /?token=***&lang=de HTTP/1.1" 200' in output  # api.logs redacts it
    assert "/unsubscribe?token=*** HTTP/1.1" in output
    for secret in (token, "old-form-secret-1", "unsubscribe-secret-2"):
        assert secret not in output
    # the anonymous visit asked who was there and was told to sign in: an answer, not an error
    assert [line for line in output.splitlines() if "ERROR" in line or "Traceback" in line] == [], output

