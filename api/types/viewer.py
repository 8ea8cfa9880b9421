"""Who is signed in."""

from __future__ import annotations

import strawberry

from api.types.common import Ctx


@strawberry.type
class Viewer:
    name: str
    role: str
    customer_email: str | None

    @strawberry.field(description="Signed in with an order number and email: this session opens that one order "
                                  "and nothing account-wide (no preferences); a sign-in link opens the account.")
    def order_only(self, info: Ctx) -> bool:
        principal = info.context.principal
        return principal is not None and not principal.has_account
