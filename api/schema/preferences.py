"""GraphQL for a customer's own choices about one backorder: the latest date worth waiting for and whether a
substitute may be taken for them (`setBackorderPreferences`), and saying no to a substitute
(`declineSubstitute`). A customer changes only their own backorders (another's reads as not found); agents
any. The account's defaults for new backorders are in `updateNotificationPreferences` (api.schema.portal)."""

from __future__ import annotations

import datetime

import strawberry

from api import types as gt
from api.permissions import IsAuthenticated
from api.schema.common import Ctx, own_backorder, user_errors
from domain.errors import InvalidInput
from domain.preferences import KEEP


@strawberry.input(description="Only the fields given change; cancelIfNotBy: null clears it.")
class SetBackorderPreferencesInput:
    backorder_id: strawberry.ID
    cancel_if_not_by: datetime.date | None = strawberry.field(
        default=strawberry.UNSET,
        description="The latest date worth waiting for: when the backorder is expected after it, or it passes "
                    "while units still wait, the backorder is cancelled and the customer told why. Not before "
                    "today nor before the date it is expected on now.")
    substitutes: gt.SubstituteConsent | None = strawberry.field(  # type: ignore[valid-type]
        default=strawberry.UNSET, description="Whether a listed substitute may be taken for the customer.")


@strawberry.input
class DeclineSubstituteInput:
    backorder_id: strawberry.ID
    substitute_sku: str


@strawberry.type
class BackorderPreferencesPayload:
    backorder: gt.Backorder | None = None
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


def _by(info: Ctx) -> str:
    principal = info.context.require_principal()
    return principal.name if principal.is_staff else "customer"


@strawberry.mutation(permission_classes=[IsAuthenticated],
                     description="The customer's own choices for one backorder (customers: their own; agents: any).")
@user_errors(BackorderPreferencesPayload, fields={"changes": "input"})
async def set_backorder_preferences(info: Ctx, input: SetBackorderPreferencesInput) -> BackorderPreferencesPayload:
    key = await own_backorder(info, input.backorder_id, "backorderId")
    if input.substitutes is None:
        raise InvalidInput("substitutes cannot be null: leave it out to keep it", field="substitutes")
    b = await info.context.desk.set_backorder_preferences(
        key, cancel_if_not_by=KEEP if input.cancel_if_not_by is strawberry.UNSET else input.cancel_if_not_by,
        substitutes=None if input.substitutes is strawberry.UNSET else input.substitutes,
        by=_by(info))
    return BackorderPreferencesPayload(backorder=gt.Backorder.of(b))


@strawberry.mutation(permission_classes=[IsAuthenticated],
                     description="Say no to a substitute: it is not offered again for this backorder, and the "
                                 "decline is in its history (customers: their own; agents: any).")
@user_errors(BackorderPreferencesPayload)
async def decline_substitute(info: Ctx, input: DeclineSubstituteInput) -> BackorderPreferencesPayload:
    key = await own_backorder(info, input.backorder_id, "backorderId")
    b = await info.context.desk.decline_substitute(key, input.substitute_sku, by=_by(info))
    return BackorderPreferencesPayload(backorder=gt.Backorder.of(b))
