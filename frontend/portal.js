// The customer portal: talks only to the public GraphQL API at /graphql (HTTP for queries and
// mutations, graphql-transport-ws for live updates). The session is an HttpOnly cookie set by the
// redeemPortalLink / signInWithOrder mutations; the page never sees a token. Its words come from the
// catalogues in /i18n/ (one JSON file per language); dates, times, numbers and money from Intl.

import { el } from "./dom.js";
import { graphqlClient, subscribe } from "./graphql.js";

const BACKORDER_FIELDS = `
  id status quantity backorderedQuantity allocatedQuantity shippedQuantity cancelledQuantity
  substitutedQuantity queuePosition queueExplanation
  eta { date confidence source }
  preferences { cancelIfNotBy substitutes }
  history { at kind oldValue newValue cause }
  substitutes { product { sku name price { amount currency } } available priceDifference { amount currency }
    exchangeRate { fromCurrency toCurrency rate date } }`;

// $account is false for a sign-in with an order number: that session opens one order and no account
const ORDERS_QUERY = `query Orders($account: Boolean! = true) {
  viewer { role name customerEmail orderOnly }
  myAccount @include(if: $account) {
    email name preferences { byEmail bySms smsStopped phone quietHoursStart quietHoursEnd timezone language
      cancelIfNotBy substitutes } }
  orders(first: 100) { nodes { id number placedAt channel shipComplete
    total { amount currency }
    lines { id sku quantity allocatedQuantity shippedQuantity unitPrice { amount currency } lineTotal { amount currency }
            product { name } substituteFor { id }
            backorder { ${BACKORDER_FIELDS} } } } }
  supportedLanguages
}`;

const UPDATES = `subscription Updates { backorderUpdates { kind message backorderId
  oldEtaDate newEtaDate backorder { ${BACKORDER_FIELDS} } } }`;

// the languages the page has catalogues for (frontend/i18n/<code>.json); English is the fallback
const PAGE_LANGUAGES = ["en", "de", "fr", "es"];

const $ = (id) => document.getElementById(id);
const state = {
  orders: [], account: null, orderOnly: false, socket: null, languages: PAGE_LANGUAGES, retry: 0, live: false,
  language: "en", messages: {},
};
const catalogues = {};

// -- words -------------------------------------------------------------------------------------
async function loadCatalogue(code) {
  if (!catalogues[code]) {
    const response = await fetch(`/i18n/${code}.json`, { credentials: "same-origin" });
    if (!response.ok) throw new Error(`no catalogue for ${code}`);
    catalogues[code] = await response.json();
  }
  return catalogues[code];
}

function chosenLanguage() {
  // the customer's preference when signed in with an account, else the browser's first language we speak
  const chosen = state.account && state.account.preferences.language;
  if (chosen && PAGE_LANGUAGES.includes(chosen)) return chosen;
  for (const tag of navigator.languages || [navigator.language || "en"]) {
    const base = String(tag).split("-")[0].toLowerCase();
    if (PAGE_LANGUAGES.includes(base)) return base;
  }
  return "en";
}

async function applyLanguage(code = chosenLanguage()) {
  try {
    await loadCatalogue("en");
    state.messages = await loadCatalogue(code);
    state.language = code;
  } catch (err) {
    state.messages = catalogues.en || {};
    state.language = "en";
  }
  document.documentElement.lang = state.language;
  document.title = t("title");
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of document.querySelectorAll("[data-i18n-aria-label]")) {
    node.setAttribute("aria-label", t(node.dataset.i18nAriaLabel));
  }
}

function t(key, params = {}) {
  let text = state.messages[key] ?? (catalogues.en && catalogues.en[key]) ?? key;
  if (typeof text === "object") {
    const category = new Intl.PluralRules(locale()).select(Number(params.count));
    text = text[category] ?? text.other;
  }
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

function has(key) {
  return key in state.messages || Boolean(catalogues.en && key in catalogues.en);
}

function errorWords(code, message) {
  // a known code in the customer's language; otherwise the server's own words
  return code && has(`error.${code}`) ? t(`error.${code}`) : message;
}

// -- GraphQL over HTTP (graphql.js): errors in the customer's language --------------------------------
const gql = graphqlClient({ offline: () => t("error.OFFLINE"), words: errorWords });

// -- formatting --------------------------------------------------------------------------------
function tz() { return (state.account && state.account.preferences.timezone) || undefined; }
function locale() {
  // the page's language, in the browser's regional form when it matches (en + en-GB -> en-GB)
  const browser = navigator.language || state.language;
  return browser.split("-")[0] === state.language ? browser : state.language;
}

function formatDate(isoDate) {
  const [y, m, d] = isoDate.split("-").map(Number);
  return new Intl.DateTimeFormat(locale(), { day: "numeric", month: "long", year: "numeric", timeZone: "UTC" })
    .format(new Date(Date.UTC(y, m - 1, d)));
}

function formatDateTime(iso) {
  // with the zone named: a customer abroad must not guess whose 09:00 it is
  const options = { day: "numeric", month: "short", year: "numeric", hour: "numeric", minute: "2-digit",
    timeZoneName: "short" };
  try {
    return new Intl.DateTimeFormat(locale(), { ...options, timeZone: tz() }).format(new Date(iso));
  } catch (err) {  // a zone the browser does not know: the browser's own
    return new Intl.DateTimeFormat(locale(), options).format(new Date(iso));
  }
}

function money(m) {
  try {
    return new Intl.NumberFormat(locale(), { style: "currency", currency: m.currency }).format(Number(m.amount));
  } catch (err) {
    return `${m.amount} ${m.currency}`;
  }
}

function times(m, count) {
  // an amount of money times a count, in cents so that 3 × 0.10 is 0.30
  return { amount: String(Math.round(Number(m.amount) * 100) * count / 100), currency: m.currency };
}

const TONES = { WAITING: "wait", PARTIALLY_ALLOCATED: "wait", ALLOCATED: "ok", SHIPPED: "ok", IN_STOCK: "ok",
  CANCELLED: "off", SUBSTITUTED: "off" };

function statusWords(status) { return has(`status.${status}`) ? t(`status.${status}`) : status; }

function etaWords(eta) {
  const when = formatDate(eta.date);
  switch (eta.source) {
    case "ALLOCATED": return t("eta.ready");
    case "ON_HAND": return t("eta.onHand", { date: when });
    case "PURCHASE_ORDER":
      return eta.confidence === "HIGH" ? t("eta.confirmed", { date: when }) : t("eta.late", { date: when });
    case "RELEASE_DATE": return t("eta.release", { date: when });
    default:
      return eta.confidence === "LOW" ? t("eta.estimatedLate", { date: when }) : t("eta.estimated", { date: when });
  }
}

function aheadWords(position) {
  if (!position) return "";
  if (position === 1) return t("queue.next");
  return t("queue.ahead", { count: position - 1 });
}

// -- screens -----------------------------------------------------------------------------------
function show(id) {
  for (const section of ["loading", "sign-in", "orders", "preferences", "error"]) {
    $(section).hidden = section !== id;
  }
  const signedIn = id === "orders" || id === "preferences";
  $("account-nav").hidden = !signedIn;
  if (!signedIn) $("who").textContent = "";  // nobody's address stays on the page after they leave
}

function showError(message) {
  $("error-text").textContent = message;
  show("error");
  $("retry").focus();
}

async function fetchOrders() {
  try {
    return await gql(ORDERS_QUERY, { account: !state.orderOnly });
  } catch (err) {
    if (err.code !== "ACCOUNT_SIGN_IN_REQUIRED" || state.orderOnly) throw err;
    state.orderOnly = true;  // a reload of a sign-in with an order number: ask again without the account
    return gql(ORDERS_QUERY, { account: false });
  }
}

async function load() {
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

function renderOrders() {
  const list = $("order-list");
  list.replaceChildren(...state.orders.map(renderOrder));
  $("orders-empty").hidden = state.orders.length > 0;
}

function productName(line) { return (line.product && line.product.name) || line.sku; }

function renderOrder(order) {
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

function lineStatus(line) {
  // every line says where it stands: a backordered line its backorder's status, the others from stock
  if (line.backorder) return line.backorder.status;
  return line.shippedQuantity >= line.quantity ? "SHIPPED" : "IN_STOCK";
}

function renderLine(order, line) {
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

function replacementOf(order, b) {
  return order.lines.find((l) => l.substituteFor && l.substituteFor.id === b.id) || null;
}

function renderBackorder(order, line, b) {
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
        el("button", { type: "button", onclick: (ev) => askSubstitute(line, b, s, ev.target) },
          t("substitute.take", { count: b.backorderedQuantity })), " ",
        el("button", { type: "button", class: "secondary", onclick: (ev) => declineSubstitute(b, s, ev.target) },
          t("substitute.decline")))))));
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

function cancelReason(b) {
  // the server's words for why it was cancelled (the customer's own "cancel if not by" date, say), newest first
  const entry = [...b.history].reverse().find((h) => h.kind === "QUANTITY" && Number(h.newValue) === 0);
  return entry ? entry.cause : null;
}

const CONSENTS = ["ASK", "NEVER", "SAME_PRICE_OR_LOWER", "ANY_LISTED"];

function consentOptions(selected) {
  return CONSENTS.map((value) => el("option", { value, selected: value === selected }, t(`consent.${value}`)));
}

function renderChoices(b) {
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

async function saveChoices(b, form, out) {
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

async function declineSubstitute(b, option, button) {
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

function priceDifference(diff) {
  const amount = Number(diff.amount);
  if (amount === 0) return t("price.same");
  return amount > 0 ? t("price.moreEach", { each: money(diff) })
    : t("price.lessEach", { each: money({ ...diff, amount: String(-amount) }) });
}

function converted(option) {
  // a converted figure always comes with the rate and its date
  const r = option.exchangeRate;
  const rate = new Intl.NumberFormat(locale(), { maximumFractionDigits: 8 }).format(Number(r.rate));
  return t("price.converted", { price: money(option.product.price), from: r.fromCurrency, to: r.toCurrency, rate,
    date: formatDate(r.date) });
}

function historyWords(h) {
  // causes arrive worded for customers (no agents, reasons or purchase orders)
  if (h.kind === "ETA") {
    return h.oldValue ? t("history.etaMoved", { from: formatDate(h.oldValue), to: formatDate(h.newValue) })
      : t("history.eta", { date: formatDate(h.newValue) });
  }
  if (h.kind === "STATUS") return statusWords(h.newValue);
  if (h.kind === "QUANTITY") return t("history.quantity", { from: h.oldValue, to: h.newValue, cause: h.cause });
  return h.cause;
}

// -- form errors: said aloud (role=alert) and tied to their field (aria-invalid, aria-describedby) --
function fieldError(input, out, message) {
  out.textContent = message;
  if (input) {
    input.setAttribute("aria-invalid", "true");
    const described = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    if (!described.includes(out.id)) input.setAttribute("aria-describedby", [...described, out.id].join(" "));
  }
}

function clearErrors(form, out) {
  out.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

function fieldOf(form, field) {
  // userErrors name fields as the API does (camelCase) or as the domain does (snake_case)
  if (!field) return null;
  const name = field.replace(/_([a-z])/g, (_, c) => c.toUpperCase()).split(".")[0];
  const input = form.elements[name];
  return input instanceof Element ? input : null;
}

// -- actions -----------------------------------------------------------------------------------
function askCancel(line, b) {
  const dialog = $("cancel-dialog");
  const form = $("cancel-form");
  const max = b.quantity - b.shippedQuantity;
  const input = $("cancel-quantity");
  input.max = String(max);
  input.value = String(Math.max(1, b.backorderedQuantity || max));
  clearErrors(form, $("cancel-error"));
  $("cancel-what").textContent = t("cancel.what", { count: max, name: productName(line) });
  $("cancel-refund").textContent = t("cancel.refund", { each: money(line.unitPrice) });
  form.onsubmit = (event) => {
    if (!event.submitter || event.submitter.value !== "confirm") return;
    const quantity = Number(input.value);
    if (!Number.isInteger(quantity) || quantity < 1 || quantity > max) {
      event.preventDefault();  // the dialog stays open, the field says what is wrong
      fieldError(input, $("cancel-error"), t("cancel.invalid", { count: max }));
      input.focus();
    }
  };
  dialog.returnValue = "";
  dialog.onclose = async () => {
    if (dialog.returnValue !== "confirm") return;
    const quantity = Number(input.value);
    try {
      const data = await gql(`mutation($input: CancelBackorderInput!) { cancelBackorder(input: $input) {
        backorder { ${BACKORDER_FIELDS} } userErrors { field message code } } }`,
        { input: { id: b.id, quantity, reason: "cancelled in the customer portal" } });
      const result = data.cancelBackorder;
      if (result.userErrors.length) {
        const e = result.userErrors[0];
        return announce(errorWords(e.code, e.message), true);
      }
      // what the server cancelled, not what was asked for (the backorder may have moved meanwhile)
      const cancelled = result.backorder.cancelledQuantity - b.cancelledQuantity;
      announce(t("cancel.done", { count: cancelled, refund: money(times(line.unitPrice, cancelled)) }));
      replaceBackorder(result.backorder);
      await refresh();  // the line's and the order's totals, as the server counts them
    } catch (err) {
      announce(err.message, true);
    }
  };
  dialog.showModal();
  input.focus();
}

function askSubstitute(line, b, option, button) {
  // always asked: the customer sees what changes (product, quantity, price) and takes it only with a yes
  const dialog = $("substitute-dialog");
  const units = b.backorderedQuantity;
  const each = option.priceDifference;
  const amount = Number(each.amount);
  $("substitute-what").textContent = t("substitute.what",
    { count: units, alternative: option.product.name, original: productName(line) });
  $("substitute-price").textContent = amount === 0 ? t("substitute.samePrice", { price: money(option.product.price) })
    : amount > 0 ? t("substitute.costsMore", { each: money(each), total: money(times(each, units)) })
      : t("substitute.costsLess", { each: money({ ...each, amount: String(-amount) }),
        total: money(times({ ...each, amount: String(-amount) }, units)) });
  if (option.exchangeRate) $("substitute-price").textContent += ` ${converted(option)}`;
  $("substitute-then").textContent = t("substitute.then", { original: productName(line) });
  dialog.returnValue = "";
  dialog.onclose = () => { if (dialog.returnValue === "confirm") acceptSubstitute(b, option, button); };
  dialog.showModal();
  dialog.querySelector("button[value=keep]").focus();  // the safe choice has the focus
}

async function acceptSubstitute(b, option, button) {
  button.disabled = true;
  try {
    const data = await gql(`mutation($input: AcceptSubstituteInput!) { acceptSubstitute(input: $input) {
      backorder { id } userErrors { field message code } } }`,
      { input: { backorderId: b.id, substituteSku: option.product.sku } });
    const result = data.acceptSubstitute;
    if (result.userErrors.length) {
      button.disabled = false;
      const e = result.userErrors[0];
      return announce(errorWords(e.code, e.message), true);
    }
    announce(t("substitute.done", { name: option.product.name }));
    await refresh();
  } catch (err) {
    button.disabled = false;
    announce(err.message, true);
  }
}

async function setShipping(order, shipComplete) {
  try {
    const data = await gql(`mutation($input: SetShippingPreferenceInput!) { setShippingPreference(input: $input) {
      order { id shipComplete } userErrors { message code } } }`, { input: { orderId: order.id, shipComplete } });
    const result = data.setShippingPreference;
    if (result.userErrors.length) {
      const e = result.userErrors[0];
      return announce(errorWords(e.code, e.message), true);
    }
    order.shipComplete = result.order.shipComplete;
    announce(t(shipComplete ? "order.willShipComplete" : "order.willShipPartial", { number: order.number }));
  } catch (err) {
    announce(err.message, true);
  }
}

async function refresh() {
  try {
    const data = await fetchOrders();
    state.orders = data.orders.nodes;
    state.account = data.myAccount || null;
    renderOrders();
  } catch (err) {
    announce(err.message, true);
  }
}

function replaceBackorder(b) {
  for (const order of state.orders) {
    for (const line of order.lines) {
      if (line.backorder && line.backorder.id === b.id) line.backorder = b;
    }
  }
  renderOrders();
  const box = document.getElementById(`bo-${b.id}`);
  if (box) box.classList.add("changed");
}

function announce(message, isError = false) {
  // errors interrupt (role=alert); news waits its turn (aria-live=polite)
  const live = $(isError ? "live-alert" : "live");
  live.textContent = "";
  live.append(el("p", {}, message));
  const banner = $("connection");
  banner.textContent = message;
  banner.hidden = false;
  banner.dataset.kind = isError ? "error" : "info";
  clearTimeout(announce.timer);
  announce.timer = setTimeout(() => { if (!state.offline) banner.hidden = true; }, 6000);
}

// -- live updates (graphql-transport-ws) -------------------------------------------------------
function connectLive() {
  if (state.socket) return;
  state.socket = subscribe({
    id: "updates",
    query: UPDATES,
    onAck: () => { state.retry = 0; setOffline(false); },
    onNext: (data) => onUpdate(data.backorderUpdates),
    // the server ended the updates (the session is over, say): the socket is dropped; see where we stand
    onEnd: () => { state.socket = null; load(); },
    onClose: () => {
      state.socket = null;
      if (document.visibilityState === "hidden" && state.retry > 3) return;
      setOffline(true);
      const delay = Math.min(30000, 1000 * 2 ** state.retry++);
      setTimeout(() => { connectLive(); if (!state.offline) refresh(); }, delay);
    },
  });
}

function setOffline(offline) {
  const wasOffline = state.offline;
  state.offline = offline;
  const banner = $("connection");
  if (offline) {
    banner.textContent = t("live.paused");
    banner.hidden = false;
  } else if (wasOffline) {
    banner.hidden = true;
    refresh();
  }
  document.body.dataset.live = offline ? "off" : "on";
}

function onUpdate(update) {
  if (!update.backorder) return;
  const before = findBackorder(update.backorder.id);
  state.changes = state.changes || {};
  // a note is kept as a function: it is worded again if the customer switches language
  let note = null;
  if (update.kind === "ETA_CHANGED" && update.newEtaDate) {
    const { oldEtaDate, newEtaDate } = update;
    note = oldEtaDate
      ? () => t("live.etaMoved", { from: formatDate(oldEtaDate), to: formatDate(newEtaDate) })
      : () => t("live.eta", { date: formatDate(newEtaDate) });
  } else if (update.kind === "STATUS_CHANGED") {
    note = (b) => t("live.status", { status: statusWords(b.status) });
  } else if (update.kind === "ALLOCATED") {
    note = (b) => t("live.allocated", { count: b.allocatedQuantity, quantity: b.quantity });
  }
  if (note) state.changes[update.backorder.id] = note;
  if (before) {
    replaceBackorder(update.backorder);
    if (note) announce(note(update.backorder));
    const after = update.backorder;
    if (after.cancelledQuantity !== before.cancelledQuantity || after.substitutedQuantity !== before.substitutedQuantity) {
      refresh();  // units left the order: its totals changed
    }
  } else {
    refresh();
  }
}

function findBackorder(id) {
  for (const order of state.orders) {
    for (const line of order.lines) if (line.backorder && line.backorder.id === id) return line.backorder;
  }
  return null;
}

// -- preferences -------------------------------------------------------------------------------
function languageName(code) {
  // each language named in itself, so a customer who cannot read this page still finds their own
  try {
    const name = new Intl.DisplayNames([code], { type: "language" }).of(code) || code;
    return name.charAt(0).toLocaleUpperCase(code) + name.slice(1);
  } catch (err) {
    return code;
  }
}

function showPreferences() {
  if (!state.account) return;  // signed in for one order: there is no account to show
  const p = state.account.preferences;
  const form = $("preferences-form");
  clearErrors(form, $("preferences-error"));
  form.byEmail.checked = p.byEmail;
  form.bySms.checked = p.bySms;
  showSmsStopped(p);
  form.phone.value = p.phone || "";
  form.quietHoursStart.value = p.quietHoursStart ? p.quietHoursStart.slice(0, 5) : "";
  form.quietHoursEnd.value = p.quietHoursEnd ? p.quietHoursEnd.slice(0, 5) : "";
  form.timezone.value = p.timezone;
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  $("timezones").replaceChildren(...zones.map((z) => el("option", { value: z })));
  form.language.replaceChildren(...state.languages.map((code) => el("option",
    { value: code, lang: code, selected: code === p.language }, languageName(code))));
  form.cancelIfNotBy.value = p.cancelIfNotBy || "";
  form.substitutes.replaceChildren(...consentOptions(p.substitutes));
  $("preferences-result").textContent = "";
  show("preferences");
  $("preferences-title").focus();
}

function showSmsStopped(p) {
  // the phone said STOP: only a START from it turns texts back on, not this form
  const note = $("sms-stopped");
  note.hidden = !p.smsStopped;
  note.textContent = p.smsStopped ? t("prefs.smsStopped") : "";
}

async function savePreferences(event) {
  event.preventDefault();
  const form = event.target;
  const input = {
    byEmail: form.byEmail.checked, bySms: form.bySms.checked, phone: form.phone.value.trim() || null,
    quietHoursStart: form.quietHoursStart.value || null, quietHoursEnd: form.quietHoursEnd.value || null,
    timezone: form.timezone.value.trim(), language: form.language.value,
    cancelIfNotBy: form.cancelIfNotBy.value || null, substitutes: form.substitutes.value,
  };
  const result = $("preferences-result");
  const errors = $("preferences-error");
  clearErrors(form, errors);
  result.textContent = "";
  try {
    const data = await gql(`mutation($input: UpdateNotificationPreferencesInput!) {
      updateNotificationPreferences(input: $input) {
        preferences { byEmail bySms smsStopped phone quietHoursStart quietHoursEnd timezone language
          cancelIfNotBy substitutes }
        userErrors { field message code } } }`, { input });
    const payload = data.updateNotificationPreferences;
    if (payload.userErrors.length) {
      errors.textContent = payload.userErrors.map((e) => preferenceErrorWords(form, e)).join(" ");
      for (const e of payload.userErrors) fieldError(fieldOf(form, e.field), errors, errors.textContent);
      const first = form.querySelector("[aria-invalid=true]");
      if (first) first.focus();
      return;
    }
    const languageChanged = payload.preferences.language !== state.account.preferences.language;
    state.account.preferences = payload.preferences;
    if (languageChanged) {
      await applyLanguage();
      renderOrders();
    }
    showSmsStopped(payload.preferences);
    result.textContent = t("prefs.saved");
  } catch (err) {
    errors.textContent = err.message;
  }
}

function preferenceErrorWords(form, e) {
  // the fields' own rules, in the customer's language; anything else as the server words it
  const name = (fieldOf(form, e.field) || {}).name;
  if (name === "phone") return t(form.phone.value.trim() ? "prefs.invalid.phone" : "prefs.invalid.phoneMissing");
  if (name === "quietHoursStart" || name === "quietHoursEnd") return t("prefs.invalid.quietHours");
  if (name === "timezone") return t("prefs.invalid.timezone");
  if (name === "cancelIfNotBy") return t("choices.invalidDate");
  return errorWords(e.code, e.message);
}

// -- signing in and out ------------------------------------------------------------------------
async function requestLink(event) {
  event.preventDefault();
  const form = event.target;
  clearErrors(form, $("link-email-error"));
  $("link-result").textContent = "";
  const email = form.email.value.trim();
  if (!email) {
    fieldError(form.email, $("link-email-error"), t("signIn.emailMissing"));
    form.email.focus();
    return;
  }
  await sendLink(email, $("link-result"), (message) => fieldError(form.email, $("link-email-error"), message));
}

async function sendLink(email, out, onError = (message) => { out.textContent = message; }) {
  try {
    const data = await gql(`mutation($input: RequestPortalLinkInput!) { requestPortalLink(input: $input) {
      message linkMinutes userErrors { field message code } } }`, { input: { email } });
    const payload = data.requestPortalLink;
    if (payload.userErrors.length) {
      const e = payload.userErrors[0];
      onError(errorWords(e.code, e.message));
      return;
    }
    out.textContent = payload.linkMinutes ? t("signIn.linkSent", { count: payload.linkMinutes }) : payload.message;
  } catch (err) {
    onError(err.message);
  }
}

async function signInWithOrder(event) {
  event.preventDefault();
  const form = event.target;
  const out = $("order-result");
  clearErrors(form, out);
  for (const [input, key] of [[form.orderNumber, "signIn.orderNumberMissing"], [form.email, "signIn.emailMissing"]]) {
    if (!input.value.trim()) {
      fieldError(input, out, t(key));
      input.focus();
      return;
    }
  }
  try {
    const data = await gql(`mutation($input: SignInWithOrderInput!) { signInWithOrder(input: $input) {
      viewer { role orderOnly } userErrors { field message code } } }`,
      { input: { orderNumber: form.orderNumber.value.trim(), email: form.email.value.trim() } });
    const payload = data.signInWithOrder;
    if (payload.userErrors.length) {
      const e = payload.userErrors[0];
      const words = e.code === "NOT_FOUND" ? t("signIn.notFound") : errorWords(e.code, e.message);
      fieldError(fieldOf(form, e.field) || form.orderNumber, out, words);
      return;
    }
    state.orderOnly = payload.viewer.orderOnly;
    await load();
  } catch (err) {
    out.textContent = err.message;
  }
}

async function redeem(token) {
  history.replaceState(null, "", location.pathname);  // the link works once: do not keep it in the URL bar
  try {
    const data = await gql(`mutation($input: RedeemPortalLinkInput!) { redeemPortalLink(input: $input) {
      viewer { role orderOnly } userErrors { message code } } }`, { input: { token } });
    const payload = data.redeemPortalLink;
    if (payload.userErrors.length) {
      const e = payload.userErrors[0];
      show("sign-in");
      $("link-result").textContent = errorWords(e.code, e.message);
      return;
    }
    state.orderOnly = payload.viewer.orderOnly;
  } catch (err) {
    showError(err.message);
    return;
  }
  await load();
}

async function signOut() {
  try { await gql(`mutation { signOut { ok } }`); } catch (err) { /* signed out locally anyway */ }
  if (state.socket) { state.socket.onclose = null; state.socket.close(); state.socket = null; }
  state.orders = [];
  state.account = null;
  state.orderOnly = false;
  state.email = null;
  $("order-list").replaceChildren();
  show("sign-in");
  $("link-result").textContent = t("signIn.signedOut");
}

function linkToken() {
  // sign-in links carry the token after '#', which browsers never send: it stays out of every server's
  // logs; '?token=' is still read for links sent before
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  return fromHash || new URLSearchParams(location.search).get("token");
}

// -- start -------------------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", async () => {
  $("link-form").addEventListener("submit", requestLink);
  $("order-form").addEventListener("submit", signInWithOrder);
  $("preferences-form").addEventListener("submit", savePreferences);
  $("sign-out").addEventListener("click", signOut);
  $("show-orders").addEventListener("click", () => { show("orders"); $("orders-title").focus(); });
  $("send-account-link").addEventListener("click", () => sendLink(state.email, $("account-link-result")));
  $("show-preferences").addEventListener("click", showPreferences);
  $("retry").addEventListener("click", load);
  window.addEventListener("online", () => { if (state.offline) connectLive(); });
  // a link opened on the page already showing is only a change of '#': no new page load to read it
  window.addEventListener("hashchange", () => { const token = linkToken(); if (token) redeem(token); });
  await applyLanguage();
  const token = linkToken();
  if (token) redeem(token); else load();
});
