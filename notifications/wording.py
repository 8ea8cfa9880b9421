"""Every sentence a person reads about a backorder, for every audience and language, in one place.

The domain records causes and events as data (domain.causes, domain.events); this module words them:
for staff (English, everything recorded: agents, reasons, order and PO numbers) and for the customer
(their language, nothing of the shop's internals: no agent, reason, PO number, other customer's order or
stock figure). History (api), live updates (api, subscription `message`), emails and texts
(notifications.render) all read their words here, so a cause reworded is reworded everywhere, and a new
kind of cause that nobody words for customers yet reads as a neutral phrase, never as the staff's text.

Customer phrases are English msgids translated by the gettext catalogues (notifications.i18n).

Over 400 lines on purpose: "every sentence in one place" is the point of the module (a sentence split off
into another file is one a translator or a reviewer of what customers read would miss).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation

from babel import Locale

from domain import events as ev
from domain.causes import Actor, Cause, CauseKind, RequestedBy
from notifications.i18n import format_day, format_locale, format_money, format_number, language_of, translations

ARROW = "→"  # the one arrow of every "before → after"

# not PRIORITY: the queue is the shop's business
CUSTOMER_HISTORY_KINDS = frozenset({"STATUS", "ETA", "QUANTITY", "SUBSTITUTE", "PREFERENCE", "GOODWILL"})


def _(message: str) -> str:
    """Marks a phrase for the catalogues where it is defined; it is translated where it is used."""
    return message


# -- causes ------------------------------------------------------------------------------------
NOT_BY_DATE = _("{quantity} cancelled: not expected by {date}, the latest date you chose")
NOT_BY_DATE_PASSED = _("{quantity} cancelled: {date}, the latest date you chose, has passed")
SUBSTITUTE_DECLINED = _("you declined an alternative")
SUBSTITUTE_DECLINED_FOR_YOU = _("an alternative was declined for you")
GOODWILL_CREDIT = _("a credit of {amount} for the wait")
GOODWILL_CODE = _("a discount code for the wait")
GOODWILL_BOTH = _("a credit of {amount} and a discount code for the wait")
AUTO_SUBSTITUTED = _("{quantity} replaced by an alternative you agreed to in advance")
# What a customer reads for each kind of cause: only quantities are carried over.
CUSTOMER_CAUSES: dict[CauseKind, str] = {
    CauseKind.ORDER_PLACED: _("order placed: {quantity} of {of_quantity} on backorder"),
    CauseKind.SUBSTITUTED: _("{quantity} replaced by an alternative"),
    CauseKind.SHIPPED: _("shipped"),
    CauseKind.STOCK_RECEIVED: _("stock arrived"),
    CauseKind.STOCK_ADJUSTED: _("stock count corrected"),
    CauseKind.PO_CREATED: _("a delivery from the supplier was scheduled"),
    CauseKind.PO_CANCELLED: _("a delivery from the supplier was cancelled"),
    CauseKind.PO_RECEIVED: _("a delivery from the supplier arrived"),
    CauseKind.SUPPLIER_LEAD_TIME: _("the supplier's delivery time changed"),
    CauseKind.PRODUCT_CHANGED: _("product details changed"),
    CauseKind.QUEUE_CANCELLATION: _("the queue moved after a cancellation"),
    CauseKind.QUEUE_SUBSTITUTE: _("the queue moved after a customer chose an alternative"),
    CauseKind.SUBSTITUTE_TAKEN: _("stock went to another order"),
    CauseKind.QUEUE_REPRIORITIZED: _("the queue order changed"),
    CauseKind.QUEUE_ORDER_PLACED: _("the queue changed"),
    CauseKind.ORDER_SHIPPED: _("an order was shipped"),
    CauseKind.ETA_OVERDUE: _("the expected delivery date passed"),
    CauseKind.NOT_BY_DATE: NOT_BY_DATE,
    CauseKind.SUBSTITUTE_DECLINED: SUBSTITUTE_DECLINED,
    CauseKind.PREFERENCES_CHANGED: _("your choices for this backorder changed"),
}
CUSTOMER_CANCELS: dict[RequestedBy | None, str] = {
    RequestedBy.CUSTOMER: _("{quantity} cancelled at your request"),
    RequestedBy.SHOP: _("{quantity} cancelled by the shop"),
    None: _("{quantity} cancelled"),
}
PO_DATE_CHANGED = _("supplier date changed")
PO_CHANGED = _("a delivery from the supplier changed")
NEUTRAL_CAUSES: dict[str, str] = {  # by history kind, for what has no customer wording (LEGACY rows)
    "STATUS": _("status updated"), "ETA": _("expected date updated"), "QUANTITY": _("quantity changed"),
}
UPDATED = _("updated")


def customer_cause(kind: str, cause: Cause, language: str = "en") -> str:
    """A history entry's cause in words its customer may read, in their language."""
    t = translations(language).gettext
    if cause.kind is CauseKind.NOT_BY_DATE:
        words = NOT_BY_DATE if cause.new else NOT_BY_DATE_PASSED
        latest = format_day(date.fromisoformat(cause.old), language) if cause.old else ""
        return t(words).format(quantity=cause.quantity or 0, date=latest)
    if cause.kind is CauseKind.GOODWILL:
        return goodwill_words(cause, language)
    if cause.kind is CauseKind.SUBSTITUTE_DECLINED:
        return t(SUBSTITUTE_DECLINED if cause.actor is Actor.CUSTOMER else SUBSTITUTE_DECLINED_FOR_YOU)
    if cause.kind is CauseKind.SUBSTITUTED and cause.actor is Actor.SYSTEM:
        words = AUTO_SUBSTITUTED
    elif cause.kind is CauseKind.CANCELLED:
        words = CUSTOMER_CANCELS[cause.requested_by]
    elif cause.kind is CauseKind.PO_CHANGED:
        words = PO_DATE_CHANGED if cause.new else PO_CHANGED
    else:
        words = CUSTOMER_CAUSES.get(cause.kind) or NEUTRAL_CAUSES.get(kind, UPDATED)
    return t(words).format(quantity=cause.quantity or 0, of_quantity=cause.of_quantity or 0)


def goodwill_words(cause: Cause, language: str = "en") -> str:
    """What an agent gave, in the customer's words: the credit (`new`, "12.50 EUR") in their money format, and
    whether a discount code came with it (the code itself is on the backorder's goodwill, never in a cause: a
    cause's reference is the shop's)."""
    amount, _space, currency = (cause.new or "").partition(" ")
    return gift_words(amount, currency, cause.reference is not None, language)


def gift_words(amount: str | None, currency: str | None, code: bool, language: str = "en") -> str:
    """A credit (Babel's money format for the customer's language) and/or a discount code, in their words."""
    t = translations(language).gettext
    try:
        money = format_money(Decimal(amount or ""), currency or "", language) if currency else ""
    except (InvalidOperation, ValueError):
        money = ""
    words = GOODWILL_BOTH if money and code else GOODWILL_CREDIT if money else GOODWILL_CODE
    return t(words).format(amount=money)


def staff_cause(cause: Cause) -> str:
    """A cause as the shop reads it (English): everything recorded, agents and reasons included."""
    c, ref = cause, cause.reference or ""
    reason = f": {c.reason}" if c.reason else ""
    match c.kind:
        case CauseKind.ORDER_PLACED:
            return f"order {ref} placed: {c.quantity} of {c.of_quantity} backordered"
        case CauseKind.CANCELLED:
            if c.actor is Actor.CUSTOMER:
                return f"{c.quantity} cancelled by customer{reason}"
            wish = {RequestedBy.CUSTOMER: " at the customer's request", RequestedBy.SHOP: " (the shop's decision)",
                    None: ""}[c.requested_by]
            return f"{c.quantity} cancelled by {c.agent}{wish}{reason}"
        case CauseKind.SUBSTITUTED:
            auto = " (automatically, under the customer's consent)" if c.actor is Actor.SYSTEM else ""
            return f"{c.quantity} replaced by substitute {ref}{auto}"
        case CauseKind.SHIPPED:
            return f"shipment {ref}"
        case CauseKind.STOCK_RECEIVED:
            return f"{c.quantity} received at {ref}" + (f" ({c.reason})" if c.reason else "")
        case CauseKind.STOCK_ADJUSTED:
            return f"stock adjusted{reason}"
        case CauseKind.PO_CREATED:
            return f"purchase order {ref} expected {c.new}"
        case CauseKind.PO_CANCELLED:
            return f"purchase order {ref}: cancelled"
        case CauseKind.PO_CHANGED:
            changes = [f"date {c.old} {ARROW} {c.new}"] if c.new else []
            changes += [f"{sku} added ({new})" if old is None else f"{sku} {old} {ARROW} {new}"
                        for sku, old, new in c.lines]
            return f"purchase order {ref}: {'; '.join(changes) or 'updated'}"
        case CauseKind.PO_RECEIVED:
            return f"purchase order {ref} received"
        case CauseKind.SUPPLIER_LEAD_TIME:
            return f"supplier {ref}: lead time {c.quantity} days"
        case CauseKind.PRODUCT_CHANGED:
            return f"product {ref} changed"
        case CauseKind.QUEUE_CANCELLATION:
            return f"a backorder ahead was cancelled ({ref})"
        case CauseKind.QUEUE_SUBSTITUTE:
            return f"a backorder ahead took substitute {ref}"
        case CauseKind.SUBSTITUTE_TAKEN:
            return f"substitute for {ref}"
        case CauseKind.QUEUE_REPRIORITIZED:
            return f"queue reprioritised by {c.agent}"
        case CauseKind.REPRIORITIZED:
            return f"{c.agent}{reason}"
        case CauseKind.QUEUE_ORDER_PLACED:
            return f"order {ref} placed"
        case CauseKind.ORDER_SHIPPED:
            return f"order {ref} shipped"
        case CauseKind.ETA_OVERDUE:
            return "the expected delivery date passed"
        case CauseKind.NOT_BY_DATE:
            expected = f"expected {c.new}" if c.new else "the date passed"
            return f"{c.quantity} cancelled automatically: {expected}, customer's cancel-if-not-by {c.old}"
        case CauseKind.SUBSTITUTE_DECLINED:
            return f"substitute {ref} declined by " + (c.agent or "customer")
        case CauseKind.GOODWILL:
            given = [f"credit {c.new}"] if c.new else []
            given += [f"discount code {ref}"] if ref else []
            return f"goodwill from {c.agent}: {', '.join(given)}"
        case CauseKind.PREFERENCES_CHANGED:
            return f"preferences set by {c.agent or 'customer'}: cancel if not by {c.new or 'none'}, substitutes {ref}"
    return c.text or c.kind.value


# -- statuses ----------------------------------------------------------------------------------
CUSTOMER_STATUSES: dict[str, str] = {
    "WAITING": _("waiting for stock"),
    "PARTIALLY_ALLOCATED": _("partly set aside for you"),
    "ALLOCATED": _("set aside for you, ready to ship"),
    "SHIPPED": _("shipped"),
    "CANCELLED": _("cancelled"),
    "SUBSTITUTED": _("replaced by an alternative"),
}


def customer_status(status: str, language: str = "en") -> str:
    return translations(language).gettext(CUSTOMER_STATUSES.get(status, UPDATED))


# -- live updates ------------------------------------------------------------------------------
def visible_to_customer(event: ev.BackorderEvent) -> bool:
    """Reprioritisations are agents' decisions about the queue, with their reasons: never sent to customers."""
    return not isinstance(event, ev.BackorderReprioritized)


def update_message(event: ev.BackorderEvent, *, staff: bool, language: str = "en") -> str:
    """A live update's sentence: for staff with everything recorded (English, ISO dates); for its customer
    in their language, less agents, reasons, PO numbers and other customers' orders."""
    if staff:
        return _staff_update(event)
    t = translations(language)
    g: Callable[[str], str] = t.gettext

    def day(value: date | None) -> str:
        return format_day(value, language) if value else g(_("none"))

    match event:
        case ev.BackorderCreated():
            if event.eta_date:
                return g(_("{quantity} × {sku} on backorder, expected {date}")).format(
                    quantity=event.quantity, sku=event.sku, date=day(event.eta_date))
            return g(_("{quantity} × {sku} on backorder")).format(quantity=event.quantity, sku=event.sku)
        case ev.BackorderAllocated():
            return g(_("{quantity} × {sku} set aside for you ({allocated} of {of})")).format(
                quantity=event.quantity, sku=event.sku, allocated=event.allocated_quantity,
                of=event.backordered_quantity)
        case ev.BackorderStatusChanged():
            return g(_("status {old} {arrow} {new}: {cause}")).format(
                old=customer_status(event.old_status, language), new=customer_status(event.new_status, language),
                arrow=ARROW, cause=customer_cause("STATUS", event.cause, language))
        case ev.EtaChanged():
            return g(_("expected date {old} {arrow} {new}: {cause}")).format(
                old=day(event.old_date), new=day(event.new_date), arrow=ARROW,
                cause=customer_cause("ETA", event.cause, language))
        case ev.BackorderCancelled() if event.not_by_date is not None:
            return g(_("{quantity} × {sku} cancelled: not expected by {date}, the latest date you chose")).format(
                quantity=event.quantity, sku=event.sku, date=day(event.not_by_date))
        case ev.BackorderCancelled():
            requested = RequestedBy(event.requested_by) if event.requested_by else None
            if event.cancelled_by == Actor.CUSTOMER.value:
                requested = RequestedBy.CUSTOMER
            words = {RequestedBy.CUSTOMER: _("{quantity} × {sku} cancelled at your request"),
                     RequestedBy.SHOP: _("{quantity} × {sku} cancelled by the shop"),
                     None: _("{quantity} × {sku} cancelled")}[requested]
            return g(words).format(quantity=event.quantity, sku=event.sku)
        case ev.BackorderSubstituted() if event.automatic:
            return g(_("{quantity} × {sku} replaced by {substitute}, as you agreed in advance")).format(
                quantity=event.quantity, sku=event.sku, substitute=event.substitute_sku)
        case ev.SubstituteDeclined():
            return g(_("alternative {substitute} declined: it will not be offered again")).format(
                substitute=event.substitute_sku)
        case ev.BackorderPreferencesChanged():
            return g(_("your choices for this backorder changed"))
        case ev.BackorderSubstituted():
            return g(_("{quantity} × {sku} replaced by {substitute}")).format(
                quantity=event.quantity, sku=event.sku, substitute=event.substitute_sku)
        case ev.BackorderShipped():
            return g(_("{quantity} × {sku} shipped")).format(quantity=event.quantity, sku=event.sku)
        case ev.SubstituteOffered():
            return g(_("an alternative to {sku} is offered: {substitute}")).format(
                sku=event.sku, substitute=event.substitute_sku)
        case ev.GoodwillOffered():
            return gift_words(event.credit_amount, event.credit_currency, event.discount_code is not None, language)
    return g(_("your backorder was updated"))


def _staff_update(event: ev.BackorderEvent) -> str:
    match event:
        case ev.BackorderCreated():
            where = f" (queue position {event.queue_position})" if event.queue_position else ""
            eta = f", expected {event.eta_date.isoformat()}" if event.eta_date else ""
            return f"{event.quantity} × {event.sku} backordered{where}{eta}"
        case ev.BackorderAllocated():
            return f"{event.quantity} × {event.sku} allocated ({event.allocated_quantity} of " \
                   f"{event.backordered_quantity})"
        case ev.BackorderStatusChanged():
            return f"status {event.old_status} {ARROW} {event.new_status}: {staff_cause(event.cause)}"
        case ev.EtaChanged():
            old = event.old_date.isoformat() if event.old_date else "none"
            new = event.new_date.isoformat() if event.new_date else "none"
            return f"expected date {old} {ARROW} {new}: {staff_cause(event.cause)}"
        case ev.BackorderCancelled():
            wish = {"customer": " at the customer's request", "shop": " (the shop's decision)"}.get(
                event.requested_by or "", "") if event.cancelled_by != Actor.CUSTOMER.value else ""
            if event.not_by_date is not None:
                return f"{event.quantity} × {event.sku} cancelled automatically: not expected by " \
                       f"{event.not_by_date.isoformat()} (the customer's cancel-if-not-by)"
            return f"{event.quantity} × {event.sku} cancelled by {event.cancelled_by}{wish}"
        case ev.BackorderSubstituted():
            return f"{event.quantity} × {event.sku} replaced by {event.substitute_sku}"
        case ev.BackorderShipped():
            return f"{event.quantity} × {event.sku} shipped"
        case ev.BackorderReprioritized():
            return f"priority set to {event.priority} by {event.agent}: {event.reason}"
        case ev.SubstituteOffered():
            return f"substitute {event.substitute_sku} offered for {event.sku}"
        case ev.SubstituteDeclined():
            return f"substitute {event.substitute_sku} declined for {event.sku} by {event.declined_by}"
        case ev.GoodwillOffered():
            given = [f"credit {event.credit_amount} {event.credit_currency}"] if event.credit_amount else []
            given += [f"discount code {event.discount_code}"] if event.discount_code else []
            return f"goodwill from {event.agent}: {', '.join(given)}"
        case ev.BackorderPreferencesChanged():
            latest = event.cancel_if_not_by_date.isoformat() if event.cancel_if_not_by_date else "none"
            return f"preferences set by {event.changed_by}: cancel if not by {latest}, substitutes {event.substitutes}"
    return event.kind


# -- emails and texts about backorders ---------------------------------------------------------
# The headline says what changed (notifications.compose.headline); the facts say how things stand now, each
# number read from the backorder when the message is composed.
HEADLINES: dict[str, str] = {
    "created": _("We did not have enough in stock, so we will send what is missing as soon as it arrives."),
    "allocated": _("Good news: it has arrived and is set aside for you, ready to ship."),
    "released": _("Your preorder has been released and is set aside for you, ready to ship."),
    "preorder_reserved": _("Your preorder is set aside for you and ships from its release day, {release}."),
    "partially_allocated": _("Part of it has arrived and is set aside for you."),
    "shipped": _("It is on its way."),
    "partly_shipped": _("Part of it is on its way."),
    "cancelled_customer": _("Cancelled, as you asked. You will not be charged for cancelled items."),
    "cancelled_shop": _("We are sorry: we had to cancel it. You will not be charged for cancelled items."),
    "cancelled": _("It has been cancelled. You will not be charged for cancelled items."),
    "partly_cancelled_customer": _("Part of it is cancelled, as you asked. You will not be charged for cancelled "
                                   "items."),
    "partly_cancelled_shop": _("We are sorry: we had to cancel part of it. You will not be charged for cancelled "
                               "items."),
    "partly_cancelled": _("Part of it has been cancelled. You will not be charged for cancelled items."),
    "cancelled_not_by": _("Cancelled: it could not reach you by {deadline}, the latest date you chose. You will "
                          "not be charged for cancelled items."),
    "partly_cancelled_not_by": _("Part of it is cancelled: it could not reach you by {deadline}, the latest date "
                                 "you chose. You will not be charged for cancelled items."),
    "substituted": _("The alternative you chose takes its place."),
    "substituted_auto": _("As you agreed in advance, an alternative in stock takes its place."),
    "partly_substituted": _("The alternative you chose takes the place of part of it."),
    "eta_later": _("The expected date has moved from {old} to {new}."),
    "eta_earlier": _("Good news: it is now expected earlier, on {new} (was {old})."),
    "long_delay": _("It is taking longer than we first said: now expected {new}."),
    "substitute_offered": _("An alternative is in stock now: {names}."),
    "goodwill": _("We are sorry for the wait, and have something for you."),
}
SUBJECTS: dict[str, str] = {
    "created": _("on backorder"), "allocated": _("ready to ship"), "released": _("preorder ready to ship"),
    "preorder_reserved": _("preorder set aside"), "partially_allocated": _("part has arrived"),
    "shipped": _("on its way"), "partly_shipped": _("part is on its way"),
    "cancelled": _("cancelled"), "partly_cancelled": _("partly cancelled"), "substituted": _("alternative confirmed"),
    "partly_substituted": _("alternative confirmed"), "eta_later": _("new expected date"),
    "eta_earlier": _("arriving earlier"), "long_delay": _("delayed: your options"),
    "substitute_offered": _("an alternative is in stock"),
    "goodwill": _("something for the wait"),
}
SMS_HEADLINES: dict[str, str] = {
    "created": _("on backorder"), "allocated": _("ready to ship"), "released": _("preorder ready to ship"),
    "preorder_reserved": _("preorder set aside"), "partially_allocated": _("part has arrived"),
    "shipped": _("shipped"), "partly_shipped": _("part shipped"),
    "cancelled_customer": _("cancelled as you asked"), "cancelled_shop": _("cancelled by us, sorry"),
    "cancelled": _("cancelled"), "partly_cancelled": _("partly cancelled"),
    "cancelled_not_by": _("cancelled: not by your date"),
    "partly_cancelled_not_by": _("partly cancelled: not by your date"),
    "substituted_auto": _("replaced by an alternative you agreed to"),
    "substituted": _("replaced by your alternative"), "partly_substituted": _("partly replaced by your alternative"),
    "eta_later": _("new date"), "eta_earlier": _("arriving earlier"), "long_delay": _("delayed, see your options"),
    "substitute_offered": _("an alternative is in stock"),
    "goodwill": _("something for the wait"),  # what it is follows: sms_goodwill (a text may be all they get)
}
CONFIDENCE: dict[str, str] = {
    "HIGH": _("confirmed by the supplier"), "MEDIUM": _("our estimate"),
    "LOW": _("uncertain: the supplier has been late"),
}


GIFT_CREDIT = _("We have credited you {amount} for the wait.")
GIFT_CODE = _("Your discount code for the wait: {code}")


def goodwill_lines(credit: tuple[Decimal, str] | None, code: str | None, language: str) -> list[str]:
    """An agent's goodwill as a message states it, from its row when the message is worded: the credit in the
    customer's money format, the code to type (never the agent's name or note)."""
    t = translations(language).gettext
    lines = [t(GIFT_CREDIT).format(amount=format_money(credit[0], credit[1], language))] if credit else []
    return lines + ([t(GIFT_CODE).format(code=code)] if code else [])


def sms_goodwill(credit: tuple[Decimal, str] | None, code: str | None, language: str) -> list[str]:
    """The email's goodwill lines in few characters, for a text: the credit in the customer's money format, the
    code to type."""
    t = translations(language).gettext
    parts = [t(_("credit {amount}")).format(amount=format_money(credit[0], credit[1], language))] if credit else []
    return parts + ([t(_("code {code}")).format(code=code)] if code else [])


def sms_offer(*, difference: str, more: bool, less: bool, language: str) -> str:
    """An offered alternative for a text, "{name}" left in for the name (cut to fit the text): how its price
    compares with what the customer pays, per unit (`difference` formatted in their money; "" when no rate
    compares the two, and the name is said alone)."""
    t = translations(language).gettext
    if not difference:
        return "{name}"
    if more:
        return t(_("{name}: {difference} more each")).replace("{difference}", difference)
    if less:
        return t(_("{name}: {difference} less each")).replace("{difference}", difference)
    return t(_("{name}: same price"))


def headline_key(head: str, wish: str | None) -> str:
    """A cancel's headline follows whose wish it was (or the customer's "cancel if not by" date: `not_by`); a
    substitute taken under the customer's consent says so (`auto`)."""
    if head in ("cancelled", "partly_cancelled") and wish in ("customer", "shop", "not_by"):
        return f"{head}_{wish}"
    if head == "substituted" and wish == "auto":
        return "substituted_auto"
    return head


def headline_sentence(head: str, wish: str | None, language: str, *, old: str = "", new: str = "",
                      names: str = "", release: str = "", deadline: str = "") -> str:
    t = translations(language).gettext
    return t(HEADLINES[headline_key(head, wish)]).format(old=old, new=new, names=names, release=release,
                                                         deadline=deadline)


def subject_words(head: str, language: str) -> str:
    return translations(language).gettext(SUBJECTS[head])


def sms_headline(head: str, wish: str | None, language: str) -> str:
    key = headline_key(head, wish)
    return translations(language).gettext(SMS_HEADLINES[key if key in SMS_HEADLINES else head])


def confidence_words(confidence: str | None, language: str) -> str:
    return translations(language).gettext(CONFIDENCE[confidence]) if confidence in CONFIDENCE else ""


def _counted(language: str) -> Callable[..., str]:
    """`ngettext(singular, plural, n)` with {n} written as the locale writes numbers (1,200 / 1.200 / 1 200)."""
    t = translations(language)

    def counted(singular: str, plural: str, n: int, **more: str) -> str:
        return t.ngettext(singular, plural, n).format(n=format_number(n, language), **more)
    return counted


def facts(*, shipped: int, held: int, waiting: int, substituted: int, cancelled: int, substitute: str | None,
          language: str) -> list[str]:
    """Where every unit of the backorder stands now, one phrase per state that has any."""
    ngettext, out = _counted(language), []
    if shipped:
        out.append(ngettext("{n} shipped", "{n} shipped", shipped))
    if held:
        out.append(ngettext("{n} set aside for you", "{n} set aside for you", held))
    if waiting:
        out.append(ngettext("{n} still on backorder", "{n} still on backorder", waiting))
    if substituted and substitute:
        out.append(ngettext("{n} replaced by {name}", "{n} replaced by {name}", substituted, name=substitute))
    elif substituted:
        out.append(ngettext("{n} replaced by an alternative", "{n} replaced by an alternative", substituted))
    if cancelled:
        out.append(ngettext("{n} cancelled", "{n} cancelled", cancelled))
    return out


def sms_facts(*, shipped: int, held: int, waiting: int, substituted: int, cancelled: int, eta: str,
              language: str, paid: str = "") -> list[str]:
    """The same in few characters, for a text; `paid`: what the alternatives that took its place cost them (the
    email's "You pay ..."), the order lines' figures, fixed when the alternative was taken."""
    ngettext, out = _counted(language), []
    if shipped:
        out.append(ngettext("{n} shipped", "{n} shipped", shipped))
    if held:
        out.append(ngettext("{n} ready", "{n} ready", held))
    if waiting and eta:
        out.append(ngettext("{n} waiting, exp. {date}", "{n} waiting, exp. {date}", waiting, date=eta))
    elif waiting:
        out.append(ngettext("{n} waiting", "{n} waiting", waiting))
    if substituted and paid:
        out.append(ngettext("{n} replaced, you pay {total}", "{n} replaced, you pay {total}", substituted,
                            total=paid))
    elif substituted:
        out.append(ngettext("{n} replaced", "{n} replaced", substituted))
    if cancelled:
        out.append(ngettext("{n} cancelled", "{n} cancelled", cancelled))
    return out


def offered_price(*, name: str, price: str, difference: str, more: bool, less: bool, rate_date: str | None,
                  language: str) -> str:
    """An offered alternative by name with its price per unit in the order's currency (converted: at which day's
    rate) and how it compares with what the customer pays: what they need to decide, true when it is sent."""
    gettext = translations(language).gettext
    unit = (gettext(_("{price} each at our exchange rate of {date}")) if rate_date is not None
            else gettext(_("{price} each"))).format(price=price, date=rate_date)
    if more:
        phrase = _("{name} ({unit}, {difference} more than you pay)")
    elif less:
        phrase = _("{name} ({unit}, {difference} less than you pay)")
    else:
        phrase = _("{name} ({unit}, the same as you pay)")
    return gettext(phrase).format(name=name, unit=unit, difference=difference)


def price_paid(*, quantity: int, name: str, price: str, total: str, list_price: str | None = None,
               rate: str | None = None, rate_date: str | None = None, from_currency: str = "",
               to_currency: str = "", language: str) -> str:
    """What the customer pays for an alternative that took their item's place: in the order's currency (the
    amounts already formatted for the locale); converted from the alternative's own price, the rate and the day
    it holds for. The order line's figures, fixed when it was taken: true whenever the message is sent."""
    gettext, ngettext = translations(language).gettext, _counted(language)
    more = {"total": total, "name": name, "price": price, "list_price": list_price or "", "rate": rate or "",
            "rate_date": rate_date or "", "from_currency": from_currency, "to_currency": to_currency}
    converted = rate is not None and list_price is not None
    if quantity == 1:  # one unit: its price is the total
        return gettext(_("You pay {total} for {name}: its price of {list_price} converted at our exchange rate of "
                         "{rate_date} (1 {from_currency} = {rate} {to_currency}).") if converted
                       else _("You pay {total} for {name}.")).format(**more)
    if converted:
        return ngettext("You pay {total} for {n} × {name} ({price} each): its price of {list_price} each converted "
                        "at our exchange rate of {rate_date} (1 {from_currency} = {rate} {to_currency}).",
                        "You pay {total} for {n} × {name} ({price} each): its price of {list_price} each converted "
                        "at our exchange rate of {rate_date} (1 {from_currency} = {rate} {to_currency}).",
                        quantity, **more)
    return ngettext("You pay {total} for {n} × {name} ({price} each).",
                    "You pay {total} for {n} × {name} ({price} each).", quantity, **more)


# -- the queue, explained ----------------------------------------------------------------------
# An ordinal as the language writes it after a number: Babel (CLDR) gives the ordinal's plural category, each
# language's suffix for it is here (3rd, 3., 3e, 3.º).
_ORDINAL_SUFFIXES: dict[str, dict[str, str]] = {
    "en": {"one": "st", "two": "nd", "few": "rd", "other": "th"},
    "de": {"other": "."},
    "fr": {"one": "er", "other": "e"},
    "es": {"other": ".º"},
}


def ordinal(n: int, language: str) -> str:
    language = language_of(language)
    suffixes = _ORDINAL_SUFFIXES.get(language, _ORDINAL_SUFFIXES["en"])
    form = Locale.parse(format_locale(language)).ordinal_form(n)
    return f"{format_number(n, language)}{suffixes.get(form, suffixes['other'])}"


def queue_explanation(position: int, placed_in_turn: bool, *, fair_share: bool, language: str = "en") -> str:
    """Why a waiting backorder is where it is, in words its customer can read: its place, and whether every order
    ahead of it was placed before it (`placed_in_turn`: so in a first come, first served queue; when the shop's
    rules moved some ahead, the sentence says only how many wait ahead, never why)."""
    gettext, ngettext = translations(language).gettext, _counted(language)  # the names pybabel extracts
    ahead = position - 1
    if ahead == 0:
        sentence = gettext("You are next in line: no order is waiting before yours.")
    elif placed_in_turn:
        sentence = ngettext("You are {position} in line: {n} order placed before yours is waiting.",
                            "You are {position} in line: {n} orders placed before yours are waiting.",
                            ahead, position=ordinal(position, language))
    else:
        sentence = ngettext("You are {position} in line: {n} order is waiting ahead of yours.",
                            "You are {position} in line: {n} orders are waiting ahead of yours.",
                            ahead, position=ordinal(position, language))
    if fair_share:
        sentence += " " + gettext("Arriving stock is shared out: every waiting order gets a share first.")
    return sentence


# -- what subscribeToProduct answers ---------------------------------------------------------------
def subscribed_message(status: str, language: str) -> str:
    """What a product subscription's page tells the subscriber: told once by email, or to confirm by text."""
    gettext = translations(language).gettext
    if status == "ACTIVE":
        return gettext("We will email you once when it is back in stock.")
    return gettext("We have texted you: reply YES to confirm.")
