"""Profile the portal's `Orders` query in one process: `python -m bench.portal_profile [N]`.

The data of bench/portal_query.py (kept in /tmp/portal-profile.db between runs; delete it after a migration),
the app as `serve` builds it and the floor (bench/portal_floor.py) driven through ASGI, no sockets and no
load generator: N requests (default 300) to each, interleaved in rounds of 20, and the process CPU time per
request of each. CPU time varies far less with the machine's load than a wall-clock throughput does, so this is
the figure to watch while changing code; bench/portal_query.py (wrk, real sockets) gives the figure of record.
PORTAL_PROFILE=1: cProfile of the GraphQL requests, the top 40 by own time.
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

import httpx

DB = Path("/tmp/portal-profile.db")


async def prepare() -> str:
    from bench.portal_query import CUSTOMER, set_up
    from domain.customers import NotificationPreferences
    from domain.store.db import migrate, open_database
    from domain.store.portal import save_preferences

    url = f"sqlite://{DB}"
    if not DB.exists():  # noqa: ASYNC240 - before anything else runs
        await migrate(url)
        await set_up(url)
        async with open_database(url):
            await save_preferences(NotificationPreferences(email=CUSTOMER, language="fr"))
    return url


async def main(n: int) -> None:
    from api.app import create_app, tune_gc
    from api.settings import Settings
    from bench.portal_floor import floor_app
    from bench.portal_query import CUSTOMER, first_difference, portal_document
    from domain.store.tokens import create_token

    url = await prepare()
    os.environ.update({"BACKORDER_DATABASE_URL": url, "BACKORDER_INPROCESS_WORKER": "0"})
    app = create_app(Settings.from_env())
    floor = floor_app(url)
    base = "http://127.0.0.1:8000"
    async with app.router.lifespan_context(app):  # the floor reads through the same (global) connection
        tune_gc()
        _, token = await create_token("profile", "agent")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=base) as http, \
                httpx.AsyncClient(transport=httpx.ASGITransport(floor), base_url=base) as floor_http:
            link = (await http.post("/graphql", headers={"Authorization": f"Bearer {token}"}, json={
                "query": "mutation($e: String!) { customerPortalLink(input: {email: $e}) { url } }",
                "variables": {"e": CUSTOMER}})).json()["data"]["customerPortalLink"]["url"]
            signed_in = await http.post("/graphql", headers={"Origin": base}, json={
                "query": "mutation($t: String!) { redeemPortalLink(input: {token: $t}) { userErrors { code } } }",
                "variables": {"t": link.split("token=", 1)[1]}})
            cookie = f"bd_session={signed_in.cookies['bd_session']}"
            http.cookies.clear()
            headers = {"Origin": base, "Cookie": cookie, "Content-Type": "application/json"}
            import json
            document = json.dumps({"query": os.environ.get("PORTAL_DOCUMENT") or portal_document()})

            async def graphql() -> Any:
                r = await http.post("/graphql", content=document, headers=headers)
                assert r.status_code == 200, r.text
                return r

            async def hand() -> Any:
                r = await floor_http.get("/orders", headers={"Cookie": cookie})
                assert r.status_code == 200, r.text
                return r

            sample, floor_sample = (await graphql()).json(), (await hand()).json()
            assert os.environ.get("PORTAL_DOCUMENT") or sample == floor_sample, first_difference(floor_sample, sample)
            profile = cProfile.Profile() if os.environ.get("PORTAL_PROFILE") else None
            spent = {"graphql": 0.0, "floor": 0.0}
            main_thread = {"graphql": 0.0, "floor": 0.0}  # the event loop's thread alone (not SQLite's worker)
            for _ in range(max(1, n // 20)):
                for name, send in (("floor", hand), ("graphql", graphql)):
                    if os.environ.get("PORTAL_ONLY", name) != name:
                        continue
                    if profile is not None and name == "graphql":
                        profile.enable()
                    started, started_main = time.process_time(), time.thread_time()
                    await asyncio.gather(*(send() for _ in range(20)))
                    spent[name] += time.process_time() - started
                    main_thread[name] += time.thread_time() - started_main
                    if profile is not None and name == "graphql":
                        profile.disable()
    rounds = max(1, n // 20) * 20
    per = {k: v / rounds * 1000 or float("nan") for k, v in spent.items()}
    print(f"CPU per request: GraphQL {per['graphql']:.2f} ms, floor {per['floor']:.2f} ms, "
          f"ratio {per['floor'] / per['graphql']:.3f}x ({rounds} each; load {os.getloadavg()[0]:.2f})")
    main = {k: v / rounds * 1000 or float("nan") for k, v in main_thread.items()}
    print(f"  of which the event loop's thread: GraphQL {main['graphql']:.2f} ms, floor {main['floor']:.2f} ms, "
          f"ratio {main['floor'] / main['graphql']:.3f}x")
    from api.schema import compiled
    print(f"compiled executor: {compiled.STATS}")
    if profile is not None:
        pstats.Stats(profile).sort_stats(os.environ.get("PORTAL_PROFILE_SORT", "tottime")).print_stats(
            int(os.environ.get("PORTAL_PROFILE_TOP", "40")))


if __name__ == "__main__":
    sys.setrecursionlimit(10_000)
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 300))
