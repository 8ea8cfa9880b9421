"""GraphQL for who is asking: the principal behind the token or the portal session."""

from __future__ import annotations

import strawberry

from api import types as gt
from api.permissions import IsAuthenticated
from api.schema.common import Ctx


@strawberry.field(permission_classes=[IsAuthenticated], description="Who the token belongs to.")
def viewer(info: Ctx) -> gt.Viewer:
    p = info.context.require_principal()
    return gt.Viewer(name=p.name, role=p.role, customer_email=p.customer_email)
