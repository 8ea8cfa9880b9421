"""signOut gets the same-origin check every cookie request gets: another site cannot end a customer's session
(a cross-site request carrying the cookie is answered ok: false and changes nothing)."""

from __future__ import annotations

from tests.api import support as s
from tests.api.customer_sessions import Customer

SIGN_OUT = {"query": "mutation { signOut { ok } }"}
WHO = "{ viewer { role customerEmail } }"


async def test_another_site_cannot_sign_a_customer_out(api):
    await s.product(api.desk, "MUG", stock=1)
    placed = await s.order(api.desk, "ann@example.com", ("MUG", 1))
    ann = Customer(api)
    try:
        await ann.sign_in_with_order(placed.number, "ann@example.com")
        cookie = ann.http.cookies["bd_session"]
        for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
            response = await api.client.post(f"{api.base}/graphql", json=SIGN_OUT,
                                              headers={**headers, "Cookie": f"bd_session={cookie}"})
            assert response.json()["data"] == {"signOut": {"ok": False}}, headers
            assert "set-cookie" not in response.headers
        assert (await ann.gql(WHO))["data"]["viewer"] == {"role": "customer", "customerEmail": "ann@example.com"}
        # from the portal itself it works
        assert (await ann.gql(SIGN_OUT["query"]))["data"] == {"signOut": {"ok": True}}
        response = await api.client.post(f"{api.base}/graphql", json={"query": WHO},
                                          headers={"Cookie": f"bd_session={cookie}"})
        assert response.json()["data"] is None  # the session is over: nobody is signed in
    finally:
        await ann.close()
