"""/healthz tells a load balancer whether this process can serve: it asks the database, not just itself."""

from __future__ import annotations


async def test_healthz_checks_the_database(api):
    response = await api.client.get(f"{api.base}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}  # in-process bus: no Redis to check
