"""/healthz tells a load balancer whether this process can serve: it asks the database, not just itself."""

from __future__ import annotations


async def test_healthz_checks_the_database(api):
    response = await api.client.get(f"{api.base}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}  # in-process bus: no Redis to check


async def test_the_portal_page_may_not_be_framed_and_loads_only_our_own_files(api):
    for path in ["/", "/portal.js"]:
        response = await api.client.get(f"{api.base}{path}")
        assert response.status_code == 200, path
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
