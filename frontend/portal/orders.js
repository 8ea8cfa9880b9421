// The portal's screens: loading the customer's orders and showing them with their backorders' choices.

import { el } from "../dom.js";
import { announce, askCancel, askSubstitute, clearErrors, fieldError, fieldOf, refresh, replaceBackorder, setShipping } from "./actions.js";
import { $, PAGE_LANGUAGES, TONES, aheadWords, applyLanguage, errorWords, etaWords, formatDate, formatDateTime, gql, locale, money, state, statusWords, t } from "./core.js";
import { BACKORDER_FIELDS, ORDERS_QUERY } from "./documents.js";
import { connectLive } from "./live.js";

// -- screens -----------------------------------------------------------------------------------
export function show(id) {
  for (const section of ["loading", "sign-in", "orders", "preferences", "error"]) {
    $(section).hidden = section !== id;
  }
  const signedIn = id === "orders" || id === "preferences";
  $("account-nav").hidden = !signedIn;
  if (!signedIn) $("who").textContent = "";  // nobody's address stays on the page after they leave
}

export function showError(message) {
  $("error-text").textContent = message;
  show("error");
  $("retry").focus();
}

export async function fetchOrders() {
  try {
    return await gql(ORDERS_QUERY, { account: !state.orderOnly });
  } catch (err) {
    if (err.code !== "ACCOUNT_SIGN_IN_REQUIRED" || state.orderOnly) throw err;
    state.orderOnly = true;  // a reload of a sign-in with an order number: ask again without the account
    return gql(ORDERS_QUERY, { account: false });
  }
}

export async function load() {
  show("loading");
  let data;
  try {
    data = await fetchOrders();
  } catch (err) {
    if (err.code === "UNAUTHENTICATED" || err.code === "FORBIDDEN") {
      show("sign-in");
      return;
    }
    showError(err.message);
    return;
  }
  if (!data.viewer || data.viewer.role !== "customer") {
    show("sign-in");
    return;
  }
  state.orderOnly = data.viewer.orderOnly;
  state.account = data.myAccount || null;
  state.orders = data.orders.nodes;
  state.languages = data.supportedLanguages.filter((code) => PAGE_LANGUAGES.includes(code));
  state.email = data.viewer.customerEmail;
  await applyLanguage();
  $("who").textContent = state.email;
  $("show-preferences").hidden = state.orderOnly;
  $("order-only").hidden = !state.orderOnly;
  renderOrders();
  show("orders");
  connectLive();
}

export function renderOrders() {
  const list = $("order-list");
  list.replaceChildren(...state.orders.map(renderOrder));
  $("orders-empty").hidden = state.orders.length > 0;
}

export function productName(line) { return (line.product && line.product.name) || line.sku; }

export function renderOrder(order) {
  const hasWaiting = order.lines.some((l) => l.backorder && l.backorder.backorderedQuantity > 0);
  const name = `ship-${order.id}`;
  const choice = (value, label) => el("label", {},
    el("input", { type: "radio", name, value, checked: order.shipComplete === (value === "complete"),
      onchange: () => setShipping(order, value === "complete") }), label);
  return el("article", { class: "order", "data-testid": "order", "data-order": order.number },
    el("header", {},
      el("h3", {}, t("order.title", { number: order.number })),
      el("span", { class: "meta" }, t("order.placed", { when: formatDateTime(order.placedAt) }))),
    el("ul", { class: "lines" }, order.lines.map((line) => renderLine(order, line))),
    order.total ? el("p", { class: "total", "data-testid": "order-total" }, t("order.total", { total: money(order.total) }))
      : null,
    hasWaiting ? el("fieldset", { class: "pref-ship" },
      el("legend", {}, t("order.whenWaiting")),
      choice("partial", t("order.shipPartial")),
      choice("complete", t("order.shipComplete"))) : null);
}

export function lineStatus(line) {
  // every line says where it stands: a backordered line its backorder's status, the others from stock
  if (line.backorder) return line.backorder.status;
  return line.shippedQuantity >= line.quantity ? "SHIPPED" : "IN_STOCK";
}

export function renderLine(order, line) {
  const name = productName(line);
  const status = lineStatus(line);
  const replaced = line.backorder && line.backorder.status === "SUBSTITUTED";
  const parts = [
    el("p", { class: replaced ? "what replaced" : "what" }, `${line.quantity} × ${name}`),
    el("p", { class: "price", "data-testid": "line-price" },
      t("line.price", { price: money(line.unitPrice), total: money(line.lineTotal) })),
  ];
  if (line.substituteFor) parts.push(el("p", { class: "note" }, t("line.alternative")));
  if (!line.backorder) {
    parts.push(el("p", {}, el("span", { class: `status ${TONES[status]}`, "data-testid": "status" },
      statusWords(status))));
  }
  if (line.allocatedQuantity > 0 && line.backorder && line.backorder.status !== "SHIPPED") {
    parts.push(el("p", {}, t("line.setAside", { count: line.allocatedQuantity })));
  }
  if (line.backorder) parts.push(renderBackorder(order, line, line.backorder));
  return el("li", { class: "line", "data-testid": "line", "data-sku": line.sku }, parts);
}

export function replacementOf(order, b) {
  return order.lines.find((l) => l.substituteFor && l.substituteFor.id === b.id) || null;
}

export function renderBackorder(order, line, b) {
  const box = el("div", { class: "backorder", id: `bo-${b.id}`, "data-testid": "backorder" },
    el("p", {}, el("span", { class: `status ${TONES[b.status] || "off"}`, "data-testid": "status" },
      statusWords(b.status))));
  if (b.substitutedQuantity > 0) {
    const other = replacementOf(order, b);
    box.append(el("p", { "data-testid": "replaced" }, other
      ? t("line.replacedBy", { count: b.substitutedQuantity, name: productName(other) })
      : t("line.replaced", { count: b.substitutedQuantity })));
  }
  if (b.backorderedQuantity > 0) {
    box.append(el("p", { "data-testid": "waiting" },
      t("backorder.waiting", { count: b.backorderedQuantity }), " ",
      // the server's sentence says why it sits there, in the customer's language; the page's own words otherwise
      b.queueExplanation || aheadWords(b.queuePosition)));
  }
  if (b.eta && ["WAITING", "PARTIALLY_ALLOCATED"].includes(b.status)) {
    box.append(el("p", { class: "eta", "data-testid": "eta" }, etaWords(b.eta)));
  }
  // what the shop gave for the wait: the credit in the customer's money format, the code to type at checkout
  for (const g of b.goodwill || []) {
    if (g.credit) box.append(el("p", { "data-testid": "goodwill" }, t("goodwill.credit", { amount: money(g.credit) })));
    if (g.discountCode) {
      box.append(el("p", { "data-testid": "goodwill" }, t("goodwill.code", { code: g.discountCode })));
    }
  }
  if (b.cancelledQuantity > 0) box.append(el("p", { class: "note" }, t("backorder.cancelled", { count: b.cancelledQuantity })));
  const why = b.status === "CANCELLED" ? cancelReason(b) : null;
  if (why) box.append(el("p", { class: "note", "data-testid": "cancel-reason" }, why));
  const note = state.changes && state.changes[b.id];
  if (note) box.append(el("p", { class: "change-note", "data-testid": "change-note" }, note(b)));
  const active = ["WAITING", "PARTIALLY_ALLOCATED", "ALLOCATED"].includes(b.status);
  const cancellable = b.quantity - b.shippedQuantity;
  if (active && cancellable > 0) {
    box.append(el("button", { type: "button", class: "secondary", onclick: () => askCancel(line, b) },
      t("cancel.open")));
  }
  // an alternative priced in another currency with no exchange rate has no price to compare: it cannot be taken
  const offers = b.backorderedQuantity > 0 ? b.substitutes.filter((s) => s.available && s.priceDifference) : [];
  if (offers.length) {
    box.append(el("details", { open: true },
      el("summary", {}, t("substitute.offers")),
      el("ul", { class: "subs" }, offers.map((s) => el("li", {},
        el("span", {}, `${s.product.name} · ${money(s.product.price)} `,
          el("span", { class: "note" }, priceDifference(s.priceDifference)),
          s.exchangeRate ? el("span", { class: "note" }, ` ${converted(s)}`) : ""),
        // the two answers stay together, the one beside the other (or both under the offer when space is short)
        el("span", { class: "answers" },
          el("button", { type: "button", onclick: (ev) => askSubstitute(line, b, s, ev.target) },
            t("substitute.take", { count: b.backorderedQuantity })),
          el("button", { type: "button", class: "secondary", onclick: (ev) => declineSubstitute(b, s, ev.target) },
            t("substitute.decline"))))))));
  }
  if (active && b.backorderedQuantity > 0 && !state.orderOnly) box.append(renderChoices(b));
  if (b.history.length) {
    box.append(el("details", {},
      el("summary", {}, t("history.title")),
      el("ul", { class: "history" }, b.history.map((h) => el("li", {},
        `${formatDateTime(h.at)}: ${historyWords(h)}`)))));
  }
  return box;
}

export function cancelReason(b) {
  // the server's words for why it was cancelled (the customer's own "cancel if not by" date, say), newest first
  const entry = [...b.history].reverse().find((h) => h.kind === "QUANTITY" && Number(h.newValue) === 0);
  return entry ? entry.cause : null;
}

export const CONSENTS = ["ASK", "NEVER", "SAME_PRICE_OR_LOWER", "ANY_LISTED"];

export function consentOptions(selected) {
  return CONSENTS.map((value) => el("option", { value, selected: value === selected }, t(`consent.${value}`)));
}

export function renderChoices(b) {
  // the customer's own limits for this backorder: the latest date worth waiting for, and alternatives
  const p = b.preferences;
  const dateId = `until-${b.id}`, consentId = `consent-${b.id}`, errorId = `choices-error-${b.id}`;
  const form = el("form", { class: "choices", "data-testid": "choices", novalidate: true },
    el("label", { for: dateId }, t("choices.cancelIfNotBy")),
    el("input", { id: dateId, name: "cancelIfNotBy", type: "date", value: p.cancelIfNotBy || "",
      min: new Date().toISOString().slice(0, 10) }),
    el("label", { for: consentId }, t("choices.substitutes")),
    el("select", { id: consentId, name: "substitutes" }, consentOptions(p.substitutes)),
    el("button", { type: "submit" }, t("choices.save")),
    el("p", { id: errorId, class: "error", role: "alert" }));
  form.onsubmit = (event) => { event.preventDefault(); saveChoices(b, form, $(errorId)); };
  const summary = p.cancelIfNotBy ? t("choices.until", { date: formatDate(p.cancelIfNotBy) }) : t("choices.title");
  return el("details", { "data-testid": "choices-box" }, el("summary", {}, summary), form);
}

export async function saveChoices(b, form, out) {
  clearErrors(form, out);
  const input = { backorderId: b.id, cancelIfNotBy: form.cancelIfNotBy.value || null,
    substitutes: form.substitutes.value };
  try {
    const data = await gql(`mutation($input: SetBackorderPreferencesInput!) { setBackorderPreferences(input: $input) {
      backorder { ${BACKORDER_FIELDS} } userErrors { field message code } } }`, { input });
    const result = data.setBackorderPreferences;
    if (result.userErrors.length) {
      const e = result.userErrors[0];
      const words = e.field === "cancelIfNotBy" ? t("choices.invalidDate") : errorWords(e.code, e.message);
      fieldError(fieldOf(form, e.field), out, words);
      return;
    }
    announce(t("choices.saved"));
    replaceBackorder(result.backorder);
    if (result.backorder.status === "SUBSTITUTED") await refresh();  // an alternative was taken for them at once
  } catch (err) {
    out.textContent = err.message;
  }
}

export async function declineSubstitute(b, option, button) {
  button.disabled = true;
  try {
    const data = await gql(`mutation($input: DeclineSubstituteInput!) { declineSubstitute(input: $input) {
      backorder { ${BACKORDER_FIELDS} } userErrors { field message code } } }`,
      { input: { backorderId: b.id, substituteSku: option.product.sku } });
    const result = data.declineSubstitute;
    if (result.userErrors.length) {
      button.disabled = false;
      const e = result.userErrors[0];
      return announce(errorWords(e.code, e.message), true);
    }
    announce(t("substitute.declined", { name: option.product.name }));
    replaceBackorder(result.backorder);
  } catch (err) {
    button.disabled = false;
    announce(err.message, true);
  }
}

export function priceDifference(diff) {
  const amount = Number(diff.amount);
  if (amount === 0) return t("price.same");
  return amount > 0 ? t("price.moreEach", { each: money(diff) })
    : t("price.lessEach", { each: money({ ...diff, amount: String(-amount) }) });
}

export function converted(option) {
  // a converted figure always comes with the rate and its date
  const r = option.exchangeRate;
  const rate = new Intl.NumberFormat(locale(), { maximumFractionDigits: 8 }).format(Number(r.rate));
  return t("price.converted", { price: money(option.product.price), from: r.fromCurrency, to: r.toCurrency, rate,
    date: formatDate(r.date) });
}

export function historyWords(h) {
  // causes arrive worded for customers (no agents, reasons or purchase orders)
  if (h.kind === "ETA") {
    return h.oldValue ? t("history.etaMoved", { from: formatDate(h.oldValue), to: formatDate(h.newValue) })
      : t("history.eta", { date: formatDate(h.newValue) });
  }
  if (h.kind === "STATUS") return statusWords(h.newValue);
  if (h.kind === "QUANTITY") return t("history.quantity", { from: h.oldValue, to: h.newValue, cause: h.cause });
  return h.cause;
}
