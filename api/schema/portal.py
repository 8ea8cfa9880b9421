"""GraphQL for the customer portal: asking for and redeeming sign-in links, signing in with an order number,
signing out, and the customer's own account and notification preferences. How links and sessions work is in
`api.portal`."""

from __future__ import annotations

import hmac
from datetime import date, datetime, time

import strawberry

from api import types as gt
from api.permissions import HasAccount, IsAuthenticated, IsStaff
from api.portal import (
    SAME_ANSWER,
    LinkSender,
    end_session,
    issue_link,
    log_link,
    read_token,
    same_answer,
    send_link_later,
    start_session,
)
from api.rate_limits import InProcessRateLimiter, RateLimiter
from api.schema.common import Ctx, own_order, user_errors
from api.staff import end_staff_session
from domain.customers import AUDITED, SUPPORTED_LANGUAGES, NotificationPreferences
from domain.customers import PreferenceChange as DomainPreferenceChange
from domain.errors import ErrorCode, InvalidInput, PermissionDenied
from domain.model import check_email
from domain.store import notify as notify_store
from domain.store import portal as store
from domain.store import queries as q


@strawberry.type(description="The customer's own consent to a channel, as recorded (domain.customers): an agent "
                             "turns email or texts on only when it is on record.")
class ChannelConsent:
    email_at: datetime | None = strawberry.field(description="When the customer themselves chose email; null: "
                                                             "never, or withdrawn since (their own off, unsubscribe).")
    sms_at: datetime | None = strawberry.field(description="When the customer themselves chose texts; null: never, "
                                                           "or withdrawn since (their own off, STOP).")
    sms_phone: str | None = strawberry.field(description="The number they chose texts at.")


@strawberry.type(description="One preference changed: when, by whom, from what to what.")
class PreferenceChange:
    at: datetime
    by: str = strawberry.field(description="The agent's name, or the customer's email when it was the customer.")
    by_agent: bool
    field: str = strawberry.field(description="The input's name of the preference, e.g. bySms, quietHoursStart.")
    old_value: str | None
    new_value: str | None

    @staticmethod
    def of(c: DomainPreferenceChange) -> PreferenceChange:
        head, *rest = c.field.split("_")
        return PreferenceChange(at=c.at, by=c.by, by_agent=c.by_agent,
                                field=head + "".join(part.title() for part in rest),
                                old_value=c.old_value, new_value=c.new_value)


@strawberry.type
class Preferences:
    _email: strawberry.Private[str]
    by_email: bool
    by_sms: bool
    phone: str | None
    quiet_hours_start: time | None = strawberry.field(description="Local time; no SMS from then...")
    quiet_hours_end: time | None = strawberry.field(description="...until then.")
    timezone: str = strawberry.field(description="IANA zone, e.g. Europe/London; dates are shown in it.")
    language: str
    cancel_if_not_by: date | None = strawberry.field(
        default=None, description="Default for new backorders: the latest date worth waiting for.")
    substitutes: gt.SubstituteConsent = strawberry.field(  # type: ignore[valid-type]
        default=gt.SubstituteConsent.ASK, description="Default for new backorders: whether a substitute may be taken.")

    @strawberry.field(description="The number replied STOP: no texts go to it until it replies START, whatever "
                                  "bySms says (a tick in a form is not consent to texts the phone refused).")
    async def sms_stopped(self) -> bool:
        return bool(self.phone) and await notify_store.sms_opted_out(self.phone or "")

    @strawberry.field(description="The customer's own consent to email and texts, as recorded.")
    async def consent(self) -> ChannelConsent:
        c = await store.consent_of(self._email)
        return ChannelConsent(email_at=c.email_at, sms_at=c.sms_at, sms_phone=c.sms_phone)

    @strawberry.field(permission_classes=[IsStaff],
                      description="Staff: the latest changes to these preferences (newest first), whose and when.")
    async def changes(self, first: int = 20) -> list[PreferenceChange]:
        return [PreferenceChange.of(c) for c in await store.preference_changes(self._email, max(0, min(first, 100)))]

    @staticmethod
    def of(p: NotificationPreferences) -> Preferences:
        return Preferences(_email=p.email, by_email=p.by_email, by_sms=p.by_sms, phone=p.phone,
                           quiet_hours_start=p.quiet_hours_start, quiet_hours_end=p.quiet_hours_end,
                           timezone=p.timezone, language=p.language, cancel_if_not_by=p.cancel_if_not_by,
                           substitutes=p.substitutes)


@strawberry.type
class Account:
    email: str
    name: str
    preferences: Preferences


@strawberry.input
class RequestPortalLinkInput:
    email: str


@strawberry.input
class CustomerPortalLinkInput:
    email: str
    order_id: strawberry.ID | None = strawberry.field(default=None, description="Limit the link to one order.")
    send: bool = strawberry.field(default=False, description="Also email it to the customer (from the outbox).")


@strawberry.input
class RedeemPortalLinkInput:
    token: str


@strawberry.input
class SignInWithOrderInput:
    order_number: str
    email: str


@strawberry.input(description="Only the fields given change; null clears phone or quiet hours.")
class UpdateNotificationPreferencesInput:
    by_email: bool | None = strawberry.UNSET
    by_sms: bool | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    quiet_hours_start: time | None = strawberry.UNSET
    quiet_hours_end: time | None = strawberry.UNSET
    timezone: str | None = strawberry.UNSET
    language: str | None = strawberry.UNSET
    cancel_if_not_by: date | None = strawberry.field(
        default=strawberry.UNSET, description="Default for backorders placed from now on (null clears it); a "
                                              "backorder's own is set with setBackorderPreferences.")
    substitutes: gt.SubstituteConsent | None = strawberry.field(  # type: ignore[valid-type]
        default=strawberry.UNSET, description="Default for backorders placed from now on.")
    customer_email: str | None = strawberry.field(default=None, description="Agents: whose preferences.")


@strawberry.type
class RequestPortalLinkPayload:
    message: str = SAME_ANSWER
    link_minutes: int | None = strawberry.field(
        default=None, description="How long a link works, for a page that words `message` in its own language.")
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CustomerPortalLinkPayload:
    url: str | None = None
    expires_at: datetime | None = None
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SignInPayload:
    viewer: gt.Viewer | None = None
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SignOutPayload:
    ok: bool


@strawberry.type
class PreferencesPayload:
    preferences: Preferences | None = None
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)




# -- queries ----------------------------------------------------------------------------------
@strawberry.field(permission_classes=[IsAuthenticated, HasAccount],
                  description="The signed-in customer's account; not for a sign-in with an order number "
                              "(error ACCOUNT_SIGN_IN_REQUIRED). Null for staff.")
async def my_account(info: Ctx) -> Account | None:
    principal = info.context.require_principal()
    if principal.customer_email is None:
        return None
    loaders = info.context.loaders  # primed by the session's read on a portal request: no statement
    customer = await loaders.customer_by_email.load(principal.customer_email)
    prefs = await loaders.preferences_by_email.load(principal.customer_email)
    return Account(email=principal.customer_email, name=customer.name if customer else "",
                   preferences=Preferences.of(prefs))


@strawberry.field(permission_classes=[IsStaff])
async def customer_preferences(info: Ctx, email: str) -> Preferences:
    # checked like every email the API takes: a longer one than the column reached the store's filter and came
    # back as "Unexpected error." (the query fuzzer found it)
    return Preferences.of(await store.get_preferences(check_email(email.strip())))


@strawberry.field(description="Languages messages and the portal can use.")
def supported_languages() -> list[str]:
    return list(SUPPORTED_LANGUAGES)


# -- mutations --------------------------------------------------------------------------------
@strawberry.mutation(description="Email a sign-in link. The answer is the same whether or not we know the address.")
@user_errors(RequestPortalLinkPayload)
async def request_portal_link(info: Ctx, input: RequestPortalLinkInput) -> RequestPortalLinkPayload:
    email = check_email(input.email)
    context = info.context
    send: LinkSender = context.extras.get("send_portal_link", log_link)
    send_link_later(context.settings, send, email, context.desk.clock.now())
    minutes = info.context.settings.link_minutes
    return RequestPortalLinkPayload(message=same_answer(minutes), link_minutes=minutes)


@strawberry.mutation(permission_classes=[IsStaff],
                     description="A sign-in link for a customer, to read out or send (agents).")
@user_errors(CustomerPortalLinkPayload)
async def customer_portal_link(info: Ctx, input: CustomerPortalLinkInput) -> CustomerPortalLinkPayload:
    email = check_email(input.email)
    if email not in await q.customers_by_email([email]):
        raise InvalidInput(f"no customer with email {email}", field="email", code=ErrorCode.NOT_FOUND)
    order_id = None
    if input.order_id:
        order_id = await own_order(info, input.order_id)
        order = (await q.orders_by_id([order_id]))[order_id]
        if order.customer.email != email:
            raise InvalidInput("that order belongs to someone else", field="orderId")
    url, expires_at = await issue_link(info, email, order_id, info.context.require_principal().name)
    if input.send:
        send: LinkSender = info.context.extras.get("send_portal_link", log_link)
        await send(email, url, expires_at)
    return CustomerPortalLinkPayload(url=url, expires_at=expires_at)


@strawberry.mutation(description="Exchange a sign-in link for a session (cookie). Each link works once.")
@user_errors(SignInPayload)
async def redeem_portal_link(info: Ctx, input: RedeemPortalLinkInput) -> SignInPayload:
    link_id = read_token(await store.signing_key(), input.token)
    outcome, link = await store.use_link(link_id, info.context.desk.clock.now())
    if outcome == "expired":
        raise InvalidInput("this sign-in link has expired: ask for a new one", field="token",
                           code=ErrorCode.LINK_EXPIRED)
    if outcome == "used":
        raise InvalidInput("this sign-in link has already been used: ask for a new one", field="token",
                           code=ErrorCode.LINK_USED)
    if outcome != "ok" or link is None:
        raise InvalidInput("this sign-in link is not valid", field="token", code=ErrorCode.LINK_INVALID)
    return SignInPayload(viewer=await start_session(info, link.email, link.order_id))


_ORDER_SIGN_IN_LIMIT = InProcessRateLimiter(10, 15 * 60)  # for a schema run without the app's (tests)


@strawberry.mutation(description="Open one order with its number and the email on it.")
@user_errors(SignInPayload)
async def sign_in_with_order(info: Ctx, input: SignInWithOrderInput) -> SignInPayload:
    request = info.context.request
    client = request.client.host if request is not None and request.client else "-"
    limit: RateLimiter = info.context.extras.get("order_sign_in_limit") or _ORDER_SIGN_IN_LIMIT
    if not await limit.allow(client):
        raise PermissionDenied("too many attempts: wait a few minutes", field="orderNumber",
                               code=ErrorCode.RATE_LIMITED)
    email = check_email(input.email)
    order_id = await q.order_id_by_number(input.order_number)
    order = (await q.orders_by_id([order_id])).get(order_id) if order_id else None
    if order is None or not hmac.compare_digest(order.customer.email, email):
        raise InvalidInput("we could not find an order with that number and email", field="orderNumber",
                           code=ErrorCode.NOT_FOUND)
    return SignInPayload(viewer=await start_session(info, email, order.id))


@strawberry.mutation(description="End the portal session (or the agent console's).")
async def sign_out(info: Ctx) -> SignOutPayload:
    if not info.context.cookies_allowed:  # another site's request: no session of ours is ended by it
        return SignOutPayload(ok=False)
    await end_staff_session(info.context.request, info.context.response, info.context.desk.clock.now())
    await end_session(info)
    return SignOutPayload(ok=True)


@strawberry.mutation(permission_classes=[IsAuthenticated, HasAccount],
                     description="How the customer is told: channels, quiet hours, time zone, language. "
                                 "Not for a sign-in with an order number (error ACCOUNT_SIGN_IN_REQUIRED). The "
                                 "customer's own save records their consent to the channels it leaves on (and "
                                 "withdraws it from those off); an agent (customerEmail) may turn anything off, but "
                                 "turns email or texts on only with that consent on record (texts: at that number), "
                                 "else CONSENT_REQUIRED. Every change is kept with who and when (`changes`).")
@user_errors(PreferencesPayload)
async def update_notification_preferences(info: Ctx,
                                          input: UpdateNotificationPreferencesInput) -> PreferencesPayload:
    principal = info.context.require_principal()
    if principal.is_staff:
        if not input.customer_email:
            raise InvalidInput("say whose preferences", field="customer_email")
        email = input.customer_email
    else:
        assert principal.customer_email is not None
        email = principal.customer_email
    changes = {name: getattr(input, name) for name in AUDITED if getattr(input, name) is not strawberry.UNSET}
    prefs = await info.context.desk.set_notification_preferences(
        email, changes, by=principal.name if principal.is_staff else email, by_agent=principal.is_staff)
    return PreferencesPayload(preferences=Preferences.of(prefs))
