// The customer portal: talks only to the public GraphQL API at /graphql (HTTP for queries and
// mutations, graphql-transport-ws for live updates). The session is an HttpOnly cookie set by the
// redeemPortalLink / signInWithOrder mutations; the page never sees a token.

const BACKORDER_FIELDS = `
  id status quantity backorderedQuantity allocatedQuantity shippedQuantity cancelledQuantity
  substitutedQuantity queuePosition
  eta { date confidence source }
  history { at kind oldValue newValue cause }
  substitutes { product { sku name price { amount currency } } available priceDifference { amount currency } }`;

// $account is false for a sign-in with an order number: that session opens one order and no account
const ORDERS_QUERY = `query Orders($account: Boolean! = true) {
  viewer { role name customerEmail orderOnly }
  myAccount @include(if: $account) {
    email name preferences { byEmail bySms smsStopped phone quietHoursStart quietHoursEnd timezone language } }
  orders(first: 100) { nodes { id number placedAt channel shipComplete
    lines { id sku quantity allocatedQuantity shippedQuantity unitPrice { amount currency }
            product { name } substituteFor { id }
            backorder { ${BACKORDER_FIELDS} } } } }
  supportedLanguages
}`;

const UPDATES = `subscription Updates { backorderUpdates { kind message backorderId
  oldEtaDate newEtaDate backorder { ${BACKORDER_FIELDS} } } }`;

const $ = (id) => document.getElementById(id);
const state = { orders: [], account: null, orderOnly: false, socket: null, languages: ["en"], retry: 0, live: false };

// -- GraphQL over HTTP -------------------------------------------------------------------------
async function gql(query, variables = {}) {
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ query, variables }),
    });
  } catch (err) {
    throw new PortalError("We cannot reach the shop right now. Check your connection and try again.", "OFFLINE");
  }
  const body = await response.json().catch(() => ({}));
  if (body.errors && body.errors.length) {
    const code = body.errors[0].extensions && body.errors[0].extensions.code;
    throw new PortalError(body.errors[0].message, code || "ERROR");
  }
  return body.data;
}

class PortalError extends Error {
  constructor(message, code) { super(message); this.code = code; }
}

// -- formatting --------------------------------------------------------------------------------
function tz() { return (state.account && state.account.preferences.timezone) || undefined; }
function lang() {
  // the chosen language, in the browser's regional form when it matches (en + en-GB -> en-GB)
  const chosen = (state.account && state.account.preferences.language) || "en";
  const browser = navigator.language || chosen;
  return browser.split("-")[0] === chosen ? browser : chosen;
}

function formatDate(isoDate) {
  const [y, m, d] = isoDate.split("-").map(Number);
  return new Intl.DateTimeFormat(lang(), { day: "numeric", month: "long", year: "numeric", timeZone: "UTC" })
    .format(new Date(Date.UTC(y, m - 1, d)));
}

function formatDateTime(iso) {
  try {
    return new Intl.DateTimeFormat(lang(), { dateStyle: "medium", timeStyle: "short", timeZone: tz() })
      .format(new Date(iso));
  } catch (err) {
    return new Date(iso).toLocaleString();
  }
}

function money(m) {
  try {
    return new Intl.NumberFormat(lang(), { style: "currency", currency: m.currency }).format(Number(m.amount));
  } catch (err) {
    return `${m.amount} ${m.currency}`;
  }
}

const STATUS_WORDS = {
  WAITING: ["Waiting for stock", "wait"],
  PARTIALLY_ALLOCATED: ["Partly set aside for you", "wait"],
  ALLOCATED: ["Set aside for you, ready to ship", "ok"],
  SHIPPED: ["Shipped", "ok"],
  CANCELLED: ["Cancelled", "off"],
  SUBSTITUTED: ["Replaced by an alternative", "off"],
};

function etaWords(eta) {
  const when = formatDate(eta.date);
  switch (eta.source) {
    case "ALLOCATED": return `Ready to ship`;
    case "ON_HAND": return `Expected ${when}, from stock`;
    case "PURCHASE_ORDER":
      return eta.confidence === "HIGH" ? `Expected ${when}, confirmed by the supplier`
        : `Expected ${when}, but the delivery is running late`;
    case "RELEASE_DATE": return `Expected ${when}, on release`;
    default:
      return eta.confidence === "LOW" ? `Estimated ${when}; the supplier has been late before`
        : `Estimated ${when}`;
  }
}

function aheadWords(position) {
  if (!position) return "";
  if (position === 1) return "You are next in line.";
  const ahead = position - 1;
  return `${ahead} ${ahead === 1 ? "customer" : "customers"} ahead of you.`;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// -- screens -----------------------------------------------------------------------------------
function show(id) {
  for (const section of ["loading", "sign-in", "orders", "preferences", "error"]) {
    $(section).hidden = section !== id;
  }
  $("account-nav").hidden = !(id === "orders" || id === "preferences");
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
  state.languages = data.supportedLanguages;
  state.email = data.viewer.customerEmail;
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

function renderOrder(order) {
  const hasWaiting = order.lines.some((l) => l.backorder && l.backorder.backorderedQuantity > 0);
  const name = `ship-${order.id}`;
  const choice = (value, label) => el("label", {},
    el("input", { type: "radio", name, value, checked: order.shipComplete === (value === "complete"),
      onchange: () => setShipping(order, value === "complete") }), label);
  return el("article", { class: "order", "data-testid": "order", "data-order": order.number },
    el("header", {},
      el("h3", {}, `Order ${order.number}`),
      el("span", { class: "meta" }, `Placed ${formatDateTime(order.placedAt)}`)),
    el("ul", { class: "lines" }, order.lines.map((line) => renderLine(order, line))),
    hasWaiting ? el("fieldset", { class: "pref-ship" },
      el("legend", {}, "When some items are waiting"),
      choice("partial", "Send what is ready now"),
      choice("complete", "Wait and send everything together")) : null);
}

function renderLine(order, line) {
  const name = (line.product && line.product.name) || line.sku;
  const parts = [el("p", { class: "what" }, `${line.quantity} × ${name}`)];
  if (line.substituteFor) parts.push(el("p", { class: "note" }, "Alternative you chose for a backordered item."));
  if (line.allocatedQuantity > 0 && line.backorder) {
    parts.push(el("p", {}, `${line.allocatedQuantity} in stock and set aside for you.`));
  }
  if (line.backorder) parts.push(renderBackorder(order, line, line.backorder));
  return el("li", { class: "line" }, parts);
}

function renderBackorder(order, line, b) {
  const [words, tone] = STATUS_WORDS[b.status] || [b.status, "off"];
  const box = el("div", { class: "backorder", id: `bo-${b.id}`, "data-testid": "backorder" },
    el("p", {}, el("span", { class: `status ${tone}`, "data-testid": "status" }, words)));
  if (b.backorderedQuantity > 0) {
    box.append(el("p", { "data-testid": "waiting" },
      `${b.backorderedQuantity} ${b.backorderedQuantity === 1 ? "item is" : "items are"} on backorder. `,
      aheadWords(b.queuePosition)));
  }
  if (b.eta && ["WAITING", "PARTIALLY_ALLOCATED"].includes(b.status)) {
    box.append(el("p", { class: "eta", "data-testid": "eta" }, etaWords(b.eta)));
  }
  if (b.cancelledQuantity > 0) box.append(el("p", { class: "note" }, `${b.cancelledQuantity} cancelled.`));
  const note = state.changes && state.changes[b.id];
  if (note) box.append(el("p", { class: "change-note", "data-testid": "change-note" }, note));
  const active = ["WAITING", "PARTIALLY_ALLOCATED", "ALLOCATED"].includes(b.status);
  const cancellable = b.quantity - b.shippedQuantity;
  if (active && cancellable > 0) {
    box.append(el("button", { type: "button", class: "secondary", onclick: () => askCancel(line, b) },
      "Cancel backordered items…"));
  }
  const offers = b.backorderedQuantity > 0 ? b.substitutes.filter((s) => s.available) : [];
  if (offers.length) {
    box.append(el("details", { open: true },
      el("summary", {}, "In stock now instead"),
      el("ul", { class: "subs" }, offers.map((s) => el("li", {},
        el("span", {}, `${s.product.name} · ${money(s.product.price)} `,
          el("span", { class: "note" }, priceDifference(s.priceDifference))),
        el("button", { type: "button", onclick: (ev) => askSubstitute(line, b, s, ev.target) },
          `Take ${b.backorderedQuantity} of these instead`))))));
  }
  if (b.history.length) {
    box.append(el("details", {},
      el("summary", {}, "History"),
      el("ul", { class: "history" }, b.history.map((h) => el("li", {},
        `${formatDateTime(h.at)}: ${historyWords(h)}`)))));
  }
  return box;
}

function priceDifference(diff) {
  const amount = Number(diff.amount);
  if (amount === 0) return "(same price)";
  return amount > 0 ? `(${money(diff)} more each)` : `(${money({ ...diff, amount: String(-amount) })} less each)`;
}

function historyWords(h) {
  // causes arrive worded for customers (no agents, reasons or purchase orders)
  if (h.kind === "ETA") return `expected date ${h.oldValue ? formatDate(h.oldValue) + " → " : ""}${formatDate(h.newValue)}`;
  if (h.kind === "STATUS") return (STATUS_WORDS[h.newValue] || [h.newValue])[0];
  if (h.kind === "QUANTITY") return `${h.oldValue} → ${h.newValue} items: ${h.cause}`;
  return h.cause;
}

// -- actions -----------------------------------------------------------------------------------
function askCancel(line, b) {
  const dialog = $("cancel-dialog");
  const max = b.quantity - b.shippedQuantity;
  const input = $("cancel-quantity");
  input.max = String(max);
  input.value = String(Math.max(1, b.backorderedQuantity || max));
  $("cancel-what").textContent = `${max} of ${(line.product && line.product.name) || line.sku} can be cancelled.`;
  $("cancel-refund").textContent =
    `You will not be charged for cancelled items; anything already paid for them is refunded ` +
    `to your original payment method (${money(line.unitPrice)} each).`;
  dialog.returnValue = "";
  dialog.onclose = async () => {
    if (dialog.returnValue !== "confirm") return;
    const quantity = Number(input.value);
    try {
      const data = await gql(`mutation($input: CancelBackorderInput!) { cancelBackorder(input: $input) {
        backorder { ${BACKORDER_FIELDS} } userErrors { field message code } } }`,
        { input: { id: b.id, quantity, reason: "cancelled in the customer portal" } });
      const result = data.cancelBackorder;
      if (result.userErrors.length) return announce(result.userErrors[0].message, true);
      // what the server cancelled, not what was asked for (the backorder may have moved meanwhile)
      const cancelled = result.backorder.cancelledQuantity - b.cancelledQuantity;
      const refund = Number(line.unitPrice.amount) * cancelled;
      announce(`${cancelled} cancelled. ${money({ amount: String(refund), currency: line.unitPrice.currency })} ` +
        `will be refunded or not charged.`);
      replaceBackorder(result.backorder);
    } catch (err) {
      announce(err.message, true);
    }
  };
  dialog.showModal();
  input.focus();
}

function askSubstitute(line, b, option, button) {
  if (!(Number(option.priceDifference.amount) > 0)) return acceptSubstitute(b, option, button);
  // it costs more: say how much, and take it only when the customer says yes
  const dialog = $("substitute-dialog");
  const units = b.backorderedQuantity;
  const each = option.priceDifference;
  const total = { amount: String(Number(each.amount) * units), currency: each.currency };
  $("substitute-what").textContent = `${units} × ${option.product.name} instead of ` +
    `${units} × ${(line.product && line.product.name) || line.sku}.`;
  $("substitute-price").textContent = `It costs ${money(each)} more each: ${money(total)} more in total.`;
  dialog.returnValue = "";
  dialog.onclose = () => { if (dialog.returnValue === "confirm") acceptSubstitute(b, option, button); };
  dialog.showModal();
  $("substitute-confirm").focus();
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
      return announce(result.userErrors[0].message, true);
    }
    announce(`Done: ${option.product.name} is set aside for you instead.`);
    await refresh();
  } catch (err) {
    button.disabled = false;
    announce(err.message, true);
  }
}

async function setShipping(order, shipComplete) {
  try {
    const data = await gql(`mutation($input: SetShippingPreferenceInput!) { setShippingPreference(input: $input) {
      order { id shipComplete } userErrors { message } } }`, { input: { orderId: order.id, shipComplete } });
    const result = data.setShippingPreference;
    if (result.userErrors.length) return announce(result.userErrors[0].message, true);
    order.shipComplete = result.order.shipComplete;
    announce(shipComplete ? `Order ${order.number} will be sent complete.`
      : `Order ${order.number}: items will be sent as they become available.`);
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
  const live = $("live");
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
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
  const socket = new WebSocket(url, "graphql-transport-ws");
  state.socket = socket;
  socket.onopen = () => socket.send(JSON.stringify({ type: "connection_init", payload: {} }));
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "connection_ack") {
      state.retry = 0;
      setOffline(false);
      socket.send(JSON.stringify({ id: "updates", type: "subscribe", payload: { query: UPDATES } }));
    } else if (message.type === "ping") {
      socket.send(JSON.stringify({ type: "pong" }));
    } else if (message.type === "next" && message.payload.data) {
      onUpdate(message.payload.data.backorderUpdates);
    } else if (message.type === "complete" || message.type === "error") {
      // the server ended the updates (the session is over, say): drop the socket, see where we stand
      socket.onclose = null;
      socket.close();
      state.socket = null;
      load();
    }
  };
  socket.onclose = () => {
    state.socket = null;
    if (document.visibilityState === "hidden" && state.retry > 3) return;
    setOffline(true);
    const delay = Math.min(30000, 1000 * 2 ** state.retry++);
    setTimeout(() => { connectLive(); if (!state.offline) refresh(); }, delay);
  };
}

function setOffline(offline) {
  const wasOffline = state.offline;
  state.offline = offline;
  const banner = $("connection");
  if (offline) {
    banner.textContent = "Live updates paused: reconnecting…";
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
  let note = null;
  if (update.kind === "ETA_CHANGED" && update.newEtaDate) {
    note = update.oldEtaDate
      ? `Expected date changed from ${formatDate(update.oldEtaDate)} to ${formatDate(update.newEtaDate)}.`
      : `Expected ${formatDate(update.newEtaDate)}.`;
  } else if (update.kind === "STATUS_CHANGED") {
    note = `Now: ${(STATUS_WORDS[update.backorder.status] || [update.backorder.status])[0].toLowerCase()}.`;
  } else if (update.kind === "ALLOCATED") {
    note = `${update.backorder.allocatedQuantity} of ${update.backorder.quantity} set aside for you.`;
  }
  if (note) state.changes[update.backorder.id] = note;
  if (before) {
    replaceBackorder(update.backorder);
    if (note) announce(note);
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
function showPreferences() {
  if (!state.account) return;  // signed in for one order: there is no account to show
  const p = state.account.preferences;
  const form = $("preferences-form");
  form.byEmail.checked = p.byEmail;
  form.bySms.checked = p.bySms;
  showSmsStopped(p);
  form.phone.value = p.phone || "";
  form.quietHoursStart.value = p.quietHoursStart ? p.quietHoursStart.slice(0, 5) : "";
  form.quietHoursEnd.value = p.quietHoursEnd ? p.quietHoursEnd.slice(0, 5) : "";
  form.timezone.value = p.timezone;
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  $("timezones").replaceChildren(...zones.map((z) => el("option", { value: z })));
  form.language.replaceChildren(...state.languages.map((code) => el("option", { value: code, selected: code === p.language },
    new Intl.DisplayNames([code], { type: "language" }).of(code) || code)));
  $("preferences-result").textContent = "";
  show("preferences");
  $("preferences-title").focus();
}

function showSmsStopped(p) {
  // the phone said STOP: only a START from it turns texts back on, not this form
  const note = $("sms-stopped");
  note.hidden = !p.smsStopped;
  note.textContent = p.smsStopped
    ? "Texts to this number are stopped because it replied STOP. Reply START to any of our texts to turn them back on."
    : "";
}

async function savePreferences(event) {
  event.preventDefault();
  const form = event.target;
  const input = {
    byEmail: form.byEmail.checked, bySms: form.bySms.checked, phone: form.phone.value.trim() || null,
    quietHoursStart: form.quietHoursStart.value || null, quietHoursEnd: form.quietHoursEnd.value || null,
    timezone: form.timezone.value.trim(), language: form.language.value,
  };
  const result = $("preferences-result");
  try {
    const data = await gql(`mutation($input: UpdateNotificationPreferencesInput!) {
      updateNotificationPreferences(input: $input) {
        preferences { byEmail bySms smsStopped phone quietHoursStart quietHoursEnd timezone language }
        userErrors { field message code } } }`, { input });
    const payload = data.updateNotificationPreferences;
    if (payload.userErrors.length) {
      result.className = "error";
      result.textContent = payload.userErrors.map((e) => e.message).join(" ");
      return;
    }
    state.account.preferences = payload.preferences;
    showSmsStopped(payload.preferences);
    result.className = "note";
    result.textContent = "Saved.";
  } catch (err) {
    result.className = "error";
    result.textContent = err.message;
  }
}

// -- signing in and out ------------------------------------------------------------------------
async function requestLink(event) {
  event.preventDefault();
  await sendLink(event.target.email.value.trim(), $("link-result"));
}

async function sendLink(email, out) {
  if (!email) { out.textContent = "Please enter your email address."; return; }
  try {
    const data = await gql(`mutation($input: RequestPortalLinkInput!) { requestPortalLink(input: $input) {
      message userErrors { message } } }`, { input: { email } });
    const payload = data.requestPortalLink;
    out.textContent = payload.userErrors.length ? payload.userErrors[0].message : payload.message;
  } catch (err) {
    out.textContent = err.message;
  }
}

async function signInWithOrder(event) {
  event.preventDefault();
  const form = event.target;
  const out = $("order-result");
  out.textContent = "";
  try {
    const data = await gql(`mutation($input: SignInWithOrderInput!) { signInWithOrder(input: $input) {
      viewer { role orderOnly } userErrors { message } } }`,
      { input: { orderNumber: form.orderNumber.value.trim(), email: form.email.value.trim() } });
    const payload = data.signInWithOrder;
    if (payload.userErrors.length) { out.textContent = payload.userErrors[0].message; return; }
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
    if (!payload.userErrors.length) state.orderOnly = payload.viewer.orderOnly;
    if (payload.userErrors.length) {
      show("sign-in");
      $("link-result").textContent = payload.userErrors[0].message;
      return;
    }
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
  show("sign-in");
  $("link-result").textContent = "You are signed out.";
}

// -- start -------------------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", () => {
  $("link-form").addEventListener("submit", requestLink);
  $("order-form").addEventListener("submit", signInWithOrder);
  $("preferences-form").addEventListener("submit", savePreferences);
  $("sign-out").addEventListener("click", signOut);
  $("show-orders").addEventListener("click", () => { show("orders"); $("orders-title").focus(); });
  $("send-account-link").addEventListener("click", () => sendLink(state.email, $("account-link-result")));
  $("show-preferences").addEventListener("click", showPreferences);
  $("retry").addEventListener("click", load);
  window.addEventListener("online", () => { if (state.offline) connectLive(); });
  const token = new URLSearchParams(location.search).get("token");
  if (token) redeem(token); else load();
});
