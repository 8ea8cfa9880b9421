"""GraphQL for goodwill: an agent gives a waiting customer a credit (in the order's currency) and/or a
discount code, with a note (domain.use_cases.goodwill)."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from api import types as gt
from api.ids import decode_id
from api.permissions import IsStaff
from api.schema.common import Ctx, user_errors


@strawberry.input
class GoodwillCreditInput:
    amount: Decimal
    currency: str = strawberry.field(description="Must be the currency the order was paid in.")


@strawberry.input
class OfferGoodwillInput:
    backorder_id: strawberry.ID
    credit: GoodwillCreditInput | None = None
    discount_code: str | None = strawberry.field(default=None, description="Letters, digits, '-', '_', '.'; "
                                                                           "at most 64.")
    note: str = strawberry.field(description="Why, in the agent's words (staff only); at most 500 characters.")


@strawberry.type
class OfferGoodwillPayload:
    backorder: gt.Backorder | None = None
    goodwill: gt.Goodwill | None = None
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


@strawberry.mutation(permission_classes=[IsStaff],
                     description="Give the waiting customer a credit and/or a discount code for the wait: kept with "
                                 "the backorder, in its history, and told to the customer.")
@user_errors(OfferGoodwillPayload)
async def offer_goodwill(info: Ctx, input: OfferGoodwillInput) -> OfferGoodwillPayload:
    b, given = await info.context.desk.offer_goodwill(
        decode_id("Backorder", input.backorder_id, "backorderId"),
        credit_amount=input.credit.amount if input.credit else None,
        credit_currency=input.credit.currency if input.credit else None,
        discount_code=input.discount_code, note=input.note, agent=info.context.require_principal().name)
    return OfferGoodwillPayload(backorder=gt.Backorder.of(b), goodwill=gt.Goodwill(_g=given))
