// The agent console's customer view: their orders, preferences and messages.

import { el, fill } from "../dom.js";
import { $, announce, button, clearErrors, confirmAction, etaText, formatDateTime, gql, showErrors, state, statusChip, words } from "./core.js";
import { CUSTOMER_QUERY, MESSAGES_QUERY } from "./documents.js";
import { afterAction, backorderActions } from "./queue.js";
import { go } from "./session.js";

// -- customer ----------------------------------------------------------------------------------
export async function openCustomer(email) {
  email = email.trim().toLowerCase();
  $("customer-form").email.value = email;
  clearErrors($("customer-form"));
  let data;
  try {
    data = await gql(CUSTOMER_QUERY, { email });
  } catch (err) {
    showErrors($("customer-form"), [{ field: "email", message: err.message }]);
    return;
  }
  const orders = data.orders.nodes;
  if (!orders.length && !data.notifications.nodes.length) {
    $("customer-body").hidden = true;
    showErrors($("customer-form"), [{ field: "email", message: `No orders or messages for ${email}.` }]);
    // a new caller: their first order is one step away, with the address already typed
    $("customer-error").append(" ", button("Place an order for them", () => newOrderFor(email), { "data-testid": "order-for" }));
    return;
  }
  state.customer = email;
  const who = orders.length ? orders[0].customer : { email, name: "", phone: null, tier: null };
  const p = data.customerPreferences;
  const told = [p.byEmail ? "email" : null, p.bySms ? `SMS${p.smsStopped ? " (number replied STOP)" : ""}` : null]
    .filter(Boolean).join(" and ") || "nothing (opted out)";
  fill($("customer-card"), 
    el("h3", {}, who.name || who.email),
    el("dl", { class: "facts" },
      el("dt", {}, "Email"), el("dd", {}, who.email),
      el("dt", {}, "Phone"), el("dd", {}, who.phone || p.phone || "—"),
      el("dt", {}, "Tier"), el("dd", {}, words(who.tier) || "—"),
      el("dt", {}, "Told by"), el("dd", { "data-testid": "told-by" }, told),
      el("dt", {}, "Quiet hours"), el("dd", {}, p.quietHoursStart ? `${p.quietHoursStart.slice(0, 5)}–${(p.quietHoursEnd || "").slice(0, 5)}` : "none"),
      el("dt", {}, "Time zone, language"), el("dd", {}, `${p.timezone}, ${p.language}`),
      el("dt", {}, "Consent on record"), el("dd", { "data-testid": "consent" }, consentText(p.consent))),
    el("div", { class: "row-actions" }, button("Send a portal link", () => portalLink(who.email, null)),
      button("Change how they are told", () => changePreferences(who.email, p, data.supportedLanguages))),
    el("p", { id: "portal-link-result", class: "note", role: "status", "data-testid": "portal-link" }),
    preferenceChanges(p.changes));
  fill($("customer-orders"), ...orders.map(renderCustomerOrder));
  fill($("customer-messages").querySelector("tbody"));
  showMessages(data.notifications);
  $("customer-body").hidden = false;
}

// what the customer themselves agreed to: an agent turns a channel on only with it on record
function consentText(c) {
  const given = [c.emailAt ? `email (since ${formatDateTime(c.emailAt)})` : null,
    c.smsAt ? `texts to ${c.smsPhone} (since ${formatDateTime(c.smsAt)})` : null].filter(Boolean);
  return given.length ? given.join("; ") : "none: only the customer can turn email or texts on (portal)";
}

// who changed how the customer is told, and when (the latest first)
function preferenceChanges(changes) {
  if (!changes.length) return el("p", { class: "note", "data-testid": "preference-changes-none" }, "No changes to how they are told yet.");
  const shown = (v) => (v === null || v === undefined ? "—" : v);
  return el("div", { class: "table-wrap" }, el("table", { class: "grid compact", "data-testid": "preference-changes" },
    el("caption", {}, "Changes to how they are told"),
    el("thead", {}, el("tr", {}, ["When", "By", "What", "From", "To"].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, changes.map((c) => el("tr", { "data-testid": "preference-change" },
      el("td", {}, formatDateTime(c.at)), el("td", {}, c.byAgent ? c.by : `${c.by} (the customer)`),
      el("td", {}, c.field), el("td", {}, shown(c.oldValue)), el("td", {}, shown(c.newValue)))))));
}

// on the customer's word: anything may be turned off; email or texts on only with their consent on record
// (else CONSENT_REQUIRED, shown beside the field)
export async function changePreferences(email, p, languages) {
  const yesNo = [["true", "Yes"], ["false", "No"]];
  const hhmm = (t) => (t ? t.slice(0, 5) : "");
  const done = await confirmAction({
    title: `How ${email} is told`, confirm: "Save",
    what: "On the customer's word. Turning email or texts on needs their own consent on record; otherwise send them a portal link to do it themselves.",
    fields: [
      { name: "byEmail", label: "Email", value: String(p.byEmail), options: yesNo },
      { name: "bySms", label: "Texts (SMS)", value: String(p.bySms), options: yesNo },
      { name: "phone", label: "Mobile number", value: p.phone || "", hint: "International form, e.g. +447700900123" },
      { name: "quietHoursStart", label: "Quiet hours from (no texts)", type: "time", value: hhmm(p.quietHoursStart) },
      { name: "quietHoursEnd", label: "Quiet hours until", type: "time", value: hhmm(p.quietHoursEnd) },
      { name: "timezone", label: "Time zone", value: p.timezone },
      { name: "language", label: "Language", value: p.language, options: languages.map((l) => [l, l]) },
    ],
    run: async (v) => {
      const input = { customerEmail: email };
      for (const name of ["byEmail", "bySms"]) if (v[name] !== String(p[name])) input[name] = v[name] === "true";
      if (v.phone !== (p.phone || "")) input.phone = v.phone || null;
      for (const name of ["quietHoursStart", "quietHoursEnd"]) if (v[name] !== hhmm(p[name])) input[name] = v[name] || null;
      for (const name of ["timezone", "language"]) if (v[name] !== p[name]) input[name] = v[name];
      return (await gql(`mutation($input: UpdateNotificationPreferencesInput!) { updateNotificationPreferences(input: $input) {
        preferences { byEmail bySms } userErrors { field message code } } }`, { input })).updateNotificationPreferences;
    },
  });
  if (done && done.preferences) {
    announce(`How ${email} is told: saved.`);
    await openCustomer(email);
  }
}

// newest first, 25 at a time: "More messages" asks for the next page
export function showMessages(page) {
  const body = $("customer-messages").querySelector("tbody");
  body.append(...page.nodes.map((n) => el("tr",
    { "data-testid": "message-row", "data-id": n.id, "data-status": n.status },
    el("td", {}, formatDateTime(n.sentAt || n.createdAt)), el("td", {}, `${words(n.channel)} to ${n.recipient}`),
    el("td", {}, n.subject || words(n.kind)),
    el("td", {}, el("span", { class: `status m-${n.status.toLowerCase()}` }, words(n.status)),
      n.lastError ? el("span", { class: "note" }, ` ${n.lastError}`) : null),
    el("td", {}, n.deliveryStatus || "—"), el("td", { class: "num" }, n.attempts),
    el("td", { class: "row-actions" }, n.status === "FAILED" || n.status === "DEAD"
      ? button("Retry", () => retryMessage(n), { "aria-label": `Retry the ${words(n.channel)} to ${n.recipient}` }) : null))));
  $("customer-no-messages").hidden = body.children.length > 0;
  state.messagesAfter = page.pageInfo.endCursor;
  $("more-messages").hidden = !page.pageInfo.hasNextPage;
  // none at all is said once, by the note under the table
  $("messages-count").textContent = page.totalCount ? `${body.children.length} of ${page.totalCount} shown.` : "";
}

export async function moreMessages() {
  try {
    const data = await gql(MESSAGES_QUERY, { email: state.customer, after: state.messagesAfter });
    showMessages(data.notifications);
  } catch (err) {
    $("messages-count").textContent = err.message;
  }
}

export function renderCustomerOrder(order) {
  return el("article", { class: "card order", "data-testid": "customer-order", "data-number": order.number },
    el("header", {}, el("h4", {}, order.number),
      el("span", { class: "note" }, `${words(order.channel)} · ${formatDateTime(order.placedAt)}${order.shipComplete ? " · ship complete" : ""}`)),
    el("table", { class: "grid" },
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "SKU"), el("th", { scope: "col" }, "Ordered"),
        el("th", { scope: "col" }, "From stock"), el("th", { scope: "col" }, "Shipped"), el("th", { scope: "col" }, "Backorder"),
        el("th", { scope: "col" }, el("span", { class: "visually-hidden" }, "Actions")))),
      el("tbody", {}, order.lines.map((l) => el("tr", { "data-testid": "order-line", "data-sku": l.sku },
        el("td", {}, button(l.sku, () => go("queue", l.sku), { "aria-label": `Queue of ${l.sku}` }), ` ${l.product ? l.product.name : ""}`),
        el("td", { class: "num" }, l.quantity), el("td", { class: "num" }, l.allocatedQuantity),
        // the line's units shipped, its backorder's included (the line's own field counts those from stock only)
        el("td", { class: "num", "data-testid": "line-shipped" }, l.shippedQuantity + (l.backorder ? l.backorder.shippedQuantity : 0)),
        el("td", {}, l.backorder ? [statusChip(l.backorder.status), ` ${l.backorder.backorderedQuantity} waiting`,
          l.backorder.queuePosition ? `, #${l.backorder.queuePosition}` : "", `, ETA ${etaText(l.backorder.eta)}`] : "—"),
        el("td", { class: "row-actions" }, l.backorder && ["WAITING", "PARTIALLY_ALLOCATED"].includes(l.backorder.status)
          ? backorderActions(l.backorder, l.product) : null))))),
    el("div", { class: "row-actions" },
      button("Ship allocated units", () => shipAllocated(order), { "aria-label": `Ship allocated units of ${order.number}` }),
      button(order.shipComplete ? "Ship what is ready instead" : "Ship complete instead", () => shippingPreference(order),
        { "aria-label": `${order.shipComplete ? "Ship what is ready instead" : "Ship complete instead"}: ${order.number}`,
          "data-testid": "shipping-preference" }),
      button("Portal link for this order", () => portalLink(order.customer.email, order.id))));
}

export async function shipAllocated(order) {
  const done = await confirmAction({
    title: `Ship ${order.number}`, what: "Record a shipment of every unit allocated to this order and not yet shipped.",
    confirm: "Record shipment",
    run: async () => (await gql(`mutation($input: ShipAllocatedInput!) { shipAllocated(input: $input) {
      shipment { id units } userErrors { field message code line } } }`, { input: { orderId: order.id } })).shipAllocated,
  });
  if (done) await afterAction(`Shipped ${done.shipment ? done.shipment.units : 0} units of ${order.number}.`);
}

// the customer's word on the phone: wait and ship everything together, or send what is ready now
export async function shippingPreference(order) {
  const complete = !order.shipComplete;
  const done = await confirmAction({
    title: `How ${order.number} ships`, confirm: complete ? "Ship complete" : "Ship what is ready",
    what: complete ? "Nothing ships until every unit of the order is allocated: then it goes in one parcel."
      : "Units allocated now can ship now; the rest follow as they arrive.",
    run: async () => (await gql(`mutation($input: SetShippingPreferenceInput!) { setShippingPreference(input: $input) {
      order { id shipComplete } userErrors { field message code } } }`,
    { input: { orderId: order.id, shipComplete: complete } })).setShippingPreference,
  });
  if (done && done.order) await afterAction(`${order.number}: ${complete ? "ships complete" : "ships what is ready"}.`);
}

export async function portalLink(email, orderId) {
  const done = await confirmAction({
    title: "Portal link", what: `A single-use sign-in link for ${email}${orderId ? " (this order only)" : ""}: emailed to them, and shown here to read out.`,
    confirm: "Create and send",
    run: async () => (await gql(`mutation($input: CustomerPortalLinkInput!) { customerPortalLink(input: $input) {
      url expiresAt userErrors { field message code } } }`, { input: { email, orderId, send: true } })).customerPortalLink,
  });
  if (!done) return;
  const out = $("portal-link-result");
  fill(out, `Sent to ${email}. Link (valid until ${formatDateTime(done.expiresAt)}): `,
    el("input", { readonly: true, value: done.url, "aria-label": "Portal link", class: "link-box" }));
  announce(`Portal link sent to ${email}.`);
}

export async function retryMessage(n) {
  const done = await confirmAction({
    title: "Send again", what: `Send the ${words(n.channel)} "${n.subject || words(n.kind)}" to ${n.recipient} again.`,
    confirm: "Send again",
    run: async () => (await gql(`mutation($input: RetryNotificationInput!) { retryNotification(input: $input) {
      notification { id status } userErrors { field message code } } }`, { input: { id: n.id } })).retryNotification,
  });
  if (done) await afterAction(`Message to ${n.recipient} queued again.`);
}

export function newOrderFor(email) {
  go("new-order");
  $("order-email").value = email;
  $("order-name").focus();
}
