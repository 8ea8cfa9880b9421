"""The portal page's headers. (/healthz and /readyz: tests/api/test_logs.py.)"""

from __future__ import annotations


async def test_the_portal_page_may_not_be_framed_and_loads_only_our_own_files(api):
    for path in ["/", "/portal.js"]:
        response = await api.client.get(f"{api.base}{path}")
        assert response.status_code == 200, path
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
