"""GraphQL for API tokens, the admin role's own business: admins list, create and revoke the tokens that
agents and integrations use. Only a hash is stored; a new token's secret is in the payload once."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from api import types as gt
from api.context import PortalSession
from api.ids import decode_id, encode_id
from api.origin import from_own_page
from api.permissions import IsAdmin
from api.schema.common import Ctx, user_errors
from api.staff import start_staff_session
from domain.errors import NotFound, PermissionDenied
from domain.store import tokens as store


@strawberry.enum
class ApiRole(Enum):
    AGENT = "agent"
    ADMIN = "admin"


@strawberry.type(description="A token an agent or integration signs in with. Its secret is never shown again.")
class ApiToken:
    _t: strawberry.Private[store.TokenInfo]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("ApiToken", self._t.id))

    @strawberry.field
    def name(self) -> str:
        return self._t.name

    @strawberry.field
    def role(self) -> ApiRole:
        return ApiRole(self._t.role)

    @strawberry.field
    def created_at(self) -> datetime | None:
        return self._t.created_at

    @strawberry.field(description="To within five minutes.")
    def last_used_at(self) -> datetime | None:
        return self._t.last_used_at


@strawberry.input
class CreateApiTokenInput:
    name: str
    role: ApiRole = ApiRole.AGENT


@strawberry.input
class RevokeApiTokenInput:
    id: strawberry.ID


@strawberry.type
class CreateApiTokenPayload:
    api_token: ApiToken | None = None
    secret: str | None = strawberry.field(default=None, description="Shown once: keep it safe.")
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RevokeApiTokenPayload:
    revoked_id: strawberry.ID | None = None
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)




@strawberry.input
class SignInWithApiTokenInput:
    token: str


@strawberry.type
class StaffSignInPayload:
    viewer: gt.Viewer | None = None
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


@strawberry.field(permission_classes=[IsAdmin], description="Tokens in use (not revoked), oldest first.")
async def api_tokens(info: Ctx) -> list[ApiToken]:
    return [ApiToken(_t=t) for t in await store.list_tokens()]


@strawberry.mutation(permission_classes=[IsAdmin])
@user_errors(CreateApiTokenPayload)
async def create_api_token(info: Ctx, input: CreateApiTokenInput) -> CreateApiTokenPayload:
    token, secret = await store.create_token(input.name, input.role.value)
    return CreateApiTokenPayload(api_token=ApiToken(_t=token), secret=secret)


@strawberry.mutation(permission_classes=[IsAdmin],
                     description="Requests with the token are refused from now on.")
@user_errors(RevokeApiTokenPayload)
async def revoke_api_token(info: Ctx, input: RevokeApiTokenInput) -> RevokeApiTokenPayload:
    key = decode_id("ApiToken", input.id)
    if not await store.revoke_token(key):
        raise NotFound("no token in use has this id", field="id")
    # its open websockets here get nothing more, at once, and (through the bus) on every other process too
    await info.context.bus.publish([PortalSession.end_api_token(key, info.context.desk.clock.now())])
    return RevokeApiTokenPayload(revoked_id=input.id)


@strawberry.mutation(description="Agents and admins (the console): exchange an API token for an HttpOnly session "
                                 "cookie, so the page never keeps the token. signOut ends it; so does revoking "
                                 "the token.")
@user_errors(StaffSignInPayload)
async def sign_in_with_api_token(info: Ctx, input: SignInWithApiTokenInput) -> StaffSignInPayload:
    context = info.context
    if context.request is None or not from_own_page(context.request, context.settings):
        # another site's page must not sign a browser in to a session of its choosing (login CSRF)
        raise PermissionDenied("sign in from the console's own page", field="token")
    token = await store.verify_token(input.token.strip())
    if token is None:
        raise PermissionDenied("this token is not valid, or it was revoked", field="token")
    context.principal = await start_staff_session(token, context.settings, context.desk.clock.now(),
                                                  context.request, context.response)
    return StaffSignInPayload(viewer=gt.Viewer(name=token.name, role=token.role, customer_email=None))
