"""GraphiQL at GET /graphql and the agent console at /agent, in production mode too: pages served by the
app with the portal's security headers, every asset from this host (vendored, pinned, with licences)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from domain.store.export import KINDS

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
VENDOR = FRONTEND / "vendor"
PAGES = {"/graphql": "graphiql.html", "/agent": "agent.html", "/admin": "agent.html", "/": "index.html"}


@pytest.mark.parametrize("path", sorted(PAGES))
async def test_pages_are_served_in_production_mode_with_the_portal_headers(api, path):
    # the `api` fixture runs with development=False: GraphiQL must not depend on --demo
    response = await api.client.get(f"{api.base}{path}", headers={"accept": "text/html"})
    assert response.status_code == 200, path
    assert response.headers["content-type"].startswith("text/html")
    assert response.text == (FRONTEND / PAGES[path]).read_text()
    csp = response.headers["content-security-policy"]
    for rule in ("default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"):
        assert rule in csp, (path, csp)
    assert "unsafe" not in csp and "http" not in csp, csp
    assert response.headers["x-frame-options"] == "DENY"


async def test_graphiql_page_works_for_anyone_but_data_still_needs_a_token(api):
    assert (await api.client.get(f"{api.base}/graphql")).status_code == 200
    body = await api.gql("{ kpis { orders } }", token=None, expect_errors=True)
    assert body["data"] is None and body["errors"][0]["extensions"]["code"] in ("UNAUTHENTICATED", "FORBIDDEN")
    # queries by GET stay refused: the address serves the page, never an operation
    response = await api.client.get(f"{api.base}/graphql", params={"query": "{ kpis { orders } }"})
    assert "kpis" not in response.text


def _manifest() -> list[dict]:
    return json.loads((VENDOR / "manifest.json").read_text())


def test_vendored_files_are_exactly_what_the_manifest_pins_with_their_licences():
    listed = set()
    for package in _manifest():
        folder = VENDOR / package["package"] / package["version"]
        assert "LICENSE" in package["files"], package["package"]
        assert package["integrity"].startswith("sha512-")
        for name, digest in package["files"].items():
            listed.add(folder / name)
            assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, f"{folder / name} was changed"
    on_disk = {p for p in VENDOR.rglob("*") if p.is_file() and p.name != "manifest.json"}
    assert on_disk == listed, "vendor/ holds files the manifest does not pin (or lacks pinned ones)"


EXPORTS = {f"/export/{kind}.csv" for kind in KINDS}  # the agents' CSV downloads (api/export.py)


def test_every_page_loads_only_files_of_this_app():
    for page in sorted(FRONTEND.glob("*.html")):
        html = page.read_text()
        refs = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert refs, page
        for ref in refs:
            assert not re.match(r"^(https?:)?//", ref), f"{page.name} loads {ref} from another host"
            if ref.startswith("/") and not ref.startswith("//"):
                path = ref.split("#")[0].split("?")[0]
                if path == "/graphql" or path in EXPORTS:  # the app's routes, not files
                    continue
                assert (FRONTEND / path.lstrip("/")).is_file(), f"{page.name} refers to missing {ref}"


def test_every_script_module_imports_only_files_that_exist():
    # the pages' scripts are ES modules split by view (agent/, portal/): a moved or renamed file must not
    # leave an import the browser cannot load (the pages' own references are checked above)
    scripts = sorted(FRONTEND.glob("*.js")) + sorted(FRONTEND.glob("*/*.js"))
    found = 0
    for script in scripts:
        if "vendor" in script.parts:
            continue
        for ref in re.findall(r'^import [^;]*? from "([^"]+)";', script.read_text(), re.M):
            found += 1
            assert ref.startswith("./") or ref.startswith("../"), f"{script.name} imports {ref}"
            assert (script.parent / ref).resolve().is_file(), f"{script.relative_to(FRONTEND)} imports missing {ref}"
    assert found > 20
