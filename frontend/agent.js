// The agent console: talks only to the public GraphQL API at /graphql (HTTP for queries and mutations,
// graphql-transport-ws for the live queue). Signing in exchanges an API token for an HttpOnly session
// cookie (signInWithApiToken); the token is sent once and never kept by the page.

import { el } from "./dom.js";
import { graphqlClient, subscribe } from "./graphql.js";

const $ = (id) => document.getElementById(id);
const VIEWS = ["find", "queue", "customer", "new-order", "numbers", "tokens"];
const state = { viewer: null, view: null, find: null, queueSku: null, socket: null, retry: 0, customer: null };

// -- GraphQL over HTTP (graphql.js) ------------------------------------------------------------
const gql = graphqlClient({
  offline: () => "The desk cannot be reached. Check the connection and try again.",
  onError: (code) => { if (code === "UNAUTHENTICATED") signedOut("Your session has ended: sign in again."); },
});

// -- small helpers -----------------------------------------------------------------------------
const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function formatDate(isoDate) {
  if (!isoDate) return "—";
  const [y, m, d] = isoDate.split("-").map(Number);
  return new Intl.DateTimeFormat(navigator.language || "en", { day: "numeric", month: "short", year: "numeric",
    timeZone: "UTC" }).format(new Date(Date.UTC(y, m - 1, d)));
}

function formatDateTime(iso) {
  if (!iso) return "—";
  return new Intl.DateTimeFormat(navigator.language || "en", { dateStyle: "medium", timeStyle: "short" })
    .format(new Date(iso));
}

function money(m) {
  try {
    return new Intl.NumberFormat(navigator.language || "en", { style: "currency", currency: m.currency })
      .format(Number(m.amount));
  } catch (err) {
    return `${m.amount} ${m.currency}`;
  }
}

const words = (code) => (code || "").toLowerCase().replace(/_/g, " ");
const statusChip = (status) => el("span", { class: `status s-${status.toLowerCase()}`, "data-testid": "status" }, words(status));
const etaText = (eta) => eta ? `${formatDate(eta.date)} (${words(eta.confidence)})` : "—";

function announce(text) {
  const live = $("live");
  live.textContent = "";
  setTimeout(() => { live.textContent = text; }, 30);
}

function button(label, onclick, attrs = {}) {
  return el("button", { type: "button", class: "small", onclick, ...attrs }, label);
}

// -- errors beside the field they name ---------------------------------------------------------
function clearErrors(scope) {
  for (const node of scope.querySelectorAll("[data-error-for]")) node.textContent = "";
  for (const node of scope.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
}

// userErrors name a field of the input ("reason", "lines.quantity" with line 1, "customer.email"): the
// message goes to the element listing that name (most specific first), else to the form's general one
function showErrors(scope, errors) {
  clearErrors(scope);
  const targets = [...scope.querySelectorAll("[data-error-for]")];
  let first = null;
  for (const error of errors) {
    const field = error.field || "";
    const names = [];
    if (error.line !== null && error.line !== undefined) names.push(`${field}@${error.line}`, `lines@${error.line}`);
    names.push(field, field.split(".")[0], field.split(".").slice(-1)[0]);
    let target = null;
    for (const name of names) {
      target = targets.find((t) => t.dataset.errorFor.split(" ").includes(name));
      if (target) break;
    }
    target = target || targets.find((t) => t.dataset.errorFor === "") || targets[0];
    if (!target) continue;
    target.textContent = target.textContent ? `${target.textContent} ${error.message}` : error.message;
    target.dataset.code = error.code || "";
    const input = target.id && scope.querySelector(`[aria-describedby~="${target.id}"]`);
    if (input) input.setAttribute("aria-invalid", "true");
    first = first || input || target;
  }
  if (first && first.focus) first.focus();
}

// -- the confirmation dialog every action goes through -----------------------------------------
// fields: [{name, label, type, value, required, min, max, options: [[value, label]], hint}]
// run(values) returns the mutation's payload; its userErrors keep the dialog open beside their fields.
function confirmAction({ title, what, fields = [], confirm = "Confirm", danger = false, run }) {
  const dialog = $("confirm");
  const form = $("confirm-form");
  $("confirm-title").textContent = title;
  $("confirm-what").textContent = what || "";
  const ok = $("confirm-ok");
  ok.textContent = confirm;
  ok.className = danger ? "danger" : "";
  ok.disabled = false;
  const box = $("confirm-fields");
  box.replaceChildren(...fields.map((f, i) => {
    const id = `confirm-field-${i}`;
    const errorId = `${id}-error`;
    let input;
    if (f.options) {
      input = el("select", { id, name: f.name, "aria-describedby": errorId },
        f.options.map(([value, label]) => el("option", { value, selected: String(f.value) === String(value) }, label)));
    } else if (f.type === "textarea") {
      input = el("textarea", { id, name: f.name, rows: 2, required: f.required, "aria-describedby": errorId });
      input.value = f.value || "";
    } else {
      input = el("input", { id, name: f.name, type: f.type || "text", required: f.required, min: f.min, max: f.max,
        step: f.type === "number" ? 1 : undefined, autocomplete: "off", "aria-describedby": errorId });
      if (f.value !== undefined && f.value !== null) input.value = f.value;
    }
    return el("div", { class: "field" }, el("label", { for: id }, f.label), f.hint ? el("p", { class: "note" }, f.hint) : null,
      input, el("p", { id: errorId, class: "error", "data-error-for": f.errorFor || f.name }));
  }));
  clearErrors(form);
  return new Promise((resolve) => {
    const close = (result) => {
      form.onsubmit = null;
      $("confirm-back").onclick = null;
      dialog.onclose = null;
      if (dialog.open) dialog.close();
      resolve(result);
    };
    $("confirm-back").onclick = () => close(null);
    dialog.onclose = () => close(null);
    form.onsubmit = async (event) => {
      event.preventDefault();
      const values = {};
      for (const f of fields) {
        const input = form.elements[f.name];
        values[f.name] = f.type === "number" ? (input.value === "" ? null : Number(input.value)) : input.value.trim();
        if (f.required && (values[f.name] === "" || values[f.name] === null)) {
          showErrors(form, [{ field: f.errorFor || f.name, message: `${f.label}: this is needed.` }]);
          return;
        }
      }
      ok.disabled = true;
      try {
        const payload = await run(values);
        if (payload && payload.userErrors && payload.userErrors.length) {
          showErrors(form, payload.userErrors);
          return;
        }
        close(payload || {});
      } catch (err) {
        showErrors(form, [{ field: "", message: err.message }]);
      } finally {
        ok.disabled = false;
      }
    };
    dialog.showModal();
    const firstInput = box.querySelector("input, select, textarea");
    (firstInput || ok).focus();
  });
}

// -- screens -----------------------------------------------------------------------------------
function show(id) {
  for (const section of ["loading", "sign-in", "error", ...VIEWS]) $(section).hidden = section !== id;
  const signedIn = VIEWS.includes(id);
  $("nav").hidden = !signedIn;
  for (const tab of document.querySelectorAll("#nav .tab[data-view]")) {
    if (tab.dataset.view === id) tab.setAttribute("aria-current", "page"); else tab.removeAttribute("aria-current");
  }
  if (signedIn) state.view = id;
  if (id !== "queue") stopLive();
}

function go(view, arg) {
  const hash = arg ? `#${view}/${encodeURIComponent(arg)}` : `#${view}`;
  if (location.hash !== hash) history.pushState(null, "", hash);
  route();
}

async function route() {
  if (!state.viewer) return;
  const [view, ...rest] = location.hash.slice(1).split("/");
  const arg = rest.length ? decodeURIComponent(rest.join("/")) : "";
  const fallback = location.pathname === "/admin" && state.viewer.role === "admin" ? "tokens" : "find";
  const target = VIEWS.includes(view) && (view !== "tokens" || state.viewer.role === "admin") ? view : fallback;
  show(target);
  const heading = $(`${target}-title`);
  if (target === "queue" && arg) await openQueue(arg);
  else if (target === "customer" && arg) await openCustomer(arg);
  else if (target === "numbers") await loadNumbers();
  else if (target === "tokens") await loadTokens();
  else if (target === "new-order" && !$("order-lines").children.length) addLine();
  heading.focus();
}

function showError(message) {
  $("error-text").textContent = message;
  show("error");
  $("retry").focus();
}

// -- signing in and out ------------------------------------------------------------------------
async function start() {
  show("loading");
  try {
    const data = await gql(`query { viewer { name role } }`);
    if (data.viewer.role !== "agent" && data.viewer.role !== "admin") { signedOut(""); return; }
    signedIn(data.viewer);
  } catch (err) {
    if (err.code === "UNAUTHENTICATED" || err.code === "FORBIDDEN") signedOut("");
    else showError(err.message);
  }
}

function signedIn(viewer) {
  state.viewer = viewer;
  $("who").textContent = `${viewer.name} (${viewer.role})`;
  $("tokens-tab").hidden = viewer.role !== "admin";
  route();
}

function signedOut(note) {
  state.viewer = null;
  stopLive();
  show("sign-in");
  $("sign-in-note").textContent = note || "";
  $("sign-in-token").focus();
}

async function signIn(event) {
  event.preventDefault();
  const form = event.target;
  const token = form.token.value.trim();
  form.token.value = "";  // the token is sent once, never kept in the page
  clearErrors(form);
  if (!token) { showErrors(form, [{ field: "token", message: "Paste your API token." }]); return; }
  try {
    const data = await gql(`mutation($input: SignInWithApiTokenInput!) { signInWithApiToken(input: $input) {
      viewer { name role } userErrors { field message code } } }`, { input: { token } });
    const payload = data.signInWithApiToken;
    if (payload.userErrors.length) { showErrors(form, payload.userErrors); return; }
    signedIn(payload.viewer);
  } catch (err) {
    showErrors(form, [{ field: "token", message: err.message }]);
  }
}

async function signOut() {
  try { await gql(`mutation { signOut { ok } }`); } catch (err) { /* signed out here anyway */ }
  history.replaceState(null, "", location.pathname);
  signedOut("You are signed out.");
}

// -- find --------------------------------------------------------------------------------------
const BACKORDER_ROW = `id sku status customerEmail channel orderedAt backorderedQuantity allocatedQuantity
  queuePosition eta { date confidence source purchaseOrderNumber } order { id number }`;

async function find(event) {
  if (event) event.preventDefault();
  const form = $("find-form");
  clearErrors(form);
  const text = form.text.value.trim();
  const filter = {};
  if (form.sku.value.trim()) filter.sku = form.sku.value.trim();
  const status = form.status.value;
  if (status === "") filter.status = ["WAITING", "PARTIALLY_ALLOCATED"];
  else if (status !== "ANY") filter.status = [status];
  if (form.channel.value) filter.channel = form.channel.value;
  if (form.overdue.checked) filter.overdue = true;
  $("find-orders").replaceChildren();
  try {
    if (text.includes("@")) {
      filter.customerEmail = text.toLowerCase();
    } else if (/^\+?[\d\s().-]{6,}$/.test(text)) {
      const found = await findCustomers(text);
      if (!found.length) { showErrors(form, [{ field: "text", message: `No customer has the phone number ${text}.` }]); return; }
      if (found.length === 1) filter.customerEmail = found[0].email; else { $("find-results").hidden = true; return; }
    } else if (text) {
      const data = await gql(`query($number: String!) { orderByNumber(number: $number) { id number placedAt channel
        customer { email name } lines { sku quantity allocatedQuantity } } }`, { number: text });
      const order = data.orderByNumber;
      if (!order) {
        // not an order number: a customer's name, then
        const found = await findCustomers(text);
        if (!found.length) { showErrors(form, [{ field: "text", message: `No order number or customer matches ${text}.` }]); return; }
        if (found.length === 1) filter.customerEmail = found[0].email; else { $("find-results").hidden = true; return; }
      } else {
        $("find-orders").replaceChildren(el("div", { class: "card found", "data-testid": "found-order" },
          el("strong", {}, order.number), ` · ${words(order.channel)} · ${formatDateTime(order.placedAt)} · `,
          button(`${order.customer.name || order.customer.email} (${order.customer.email})`, () => go("customer", order.customer.email)),
          el("ul", {}, order.lines.map((l) => el("li", {}, `${l.sku}: ${l.quantity} ordered, ${l.allocatedQuantity} from stock`)))));
        filter.orderId = order.id;
      }
    }
  } catch (err) {
    showErrors(form, [{ field: "text", message: err.message }]);
    return;
  }
  state.find = { filter, after: null };
  $("find-results").querySelector("tbody").replaceChildren();
  await findPage();
}

// customers by phone (its last digits) or name: each a button to their view
async function findCustomers(text) {
  const data = await gql(`query($search: String!) { customers(search: $search, first: 20) { email name phone } }`,
    { search: text });
  $("find-orders").replaceChildren(...data.customers.map((c) => el("p", { class: "card found", "data-testid": "found-customer" },
    button(`${c.name || c.email} · ${c.email}${c.phone ? ` · ${c.phone}` : ""}`, () => go("customer", c.email)))));
  return data.customers;
}

async function findPage() {
  const { filter, after } = state.find;
  let data;
  try {
    data = await gql(`query($filter: BackorderFilter, $after: String) {
      backorders(filter: $filter, first: 25, after: $after) { totalCount pageInfo { hasNextPage endCursor }
        nodes { ${BACKORDER_ROW} } } }`, { filter, after });
  } catch (err) {
    showErrors($("find-form"), [{ field: "text", message: err.message }]);
    return;
  }
  const page = data.backorders;
  const body = $("find-results").querySelector("tbody");
  body.append(...page.nodes.map((b) => el("tr", { "data-testid": "find-row", "data-id": b.id },
    el("td", {}, b.order ? button(b.order.number, () => go("customer", b.customerEmail)) : "—"),
    el("td", {}, button(b.customerEmail, () => go("customer", b.customerEmail))),
    el("td", {}, button(b.sku, () => go("queue", b.sku), { "aria-label": `Queue of ${b.sku}` })),
    el("td", {}, statusChip(b.status)), el("td", { class: "num" }, b.backorderedQuantity),
    el("td", { class: "num" }, b.queuePosition || "—"), el("td", {}, etaText(b.eta)),
    el("td", {}, formatDateTime(b.orderedAt)))));
  const shown = body.children.length;
  $("find-results").hidden = shown === 0;
  $("find-summary").textContent = `${page.totalCount} backorder${page.totalCount === 1 ? "" : "s"} found` +
    (page.totalCount ? `, ${shown} shown.` : ".");
  state.find.after = page.pageInfo.endCursor;
  $("find-more").hidden = !page.pageInfo.hasNextPage;
}

// -- the SKU queue -----------------------------------------------------------------------------
const QUEUE_QUERY = `query Queue($sku: String!) {
  product(sku: $sku) { sku name onHand availableToPromise unitsBackordered leadTimeDays
    supplier { name } substitutes { sku name availableToPromise }
    queue { ${BACKORDER_ROW} quantity priority priorityReason allocationReason
      preferences { cancelIfNotBy substitutes } declinedSubstitutes } }
  purchaseOrders(filter: {sku: $sku, status: [OPEN, PARTIALLY_RECEIVED]}, first: 50) {
    nodes { id number expectedDate status supplier { name }
      lines { sku quantity receivedQuantity outstandingQuantity } } }
  reorderSuggestions(filter: {skus: [$sku]}) { suggestions { demandPerDay leadTimeDays leadTimeStdDays
    leadTimeLearned leadTimeDemand safetyStock reorderPoint available onOrder waiting inventoryPosition
    belowReorderPoint suggestedQuantity supplier { id name } } }
}`;

async function openQueue(sku) {
  $("queue-form").sku.value = sku;
  clearErrors($("queue-form"));
  const ok = await loadQueue(sku);
  if (ok) startLive(sku);
}

async function loadQueue(sku) {
  let data;
  try {
    data = await gql(QUEUE_QUERY, { sku });
  } catch (err) {
    showErrors($("queue-form"), [{ field: "sku", message: err.message }]);
    return false;
  }
  if (!data.product) {
    $("queue-body").hidden = true;
    showErrors($("queue-form"), [{ field: "sku", message: `No product has the SKU ${sku}.` }]);
    return false;
  }
  state.queueSku = sku;
  state.queue = data;
  renderQueue(data);
  $("queue-body").hidden = false;
  return true;
}

function renderQueue(data) {
  const p = data.product;
  $("queue-product").replaceChildren(
    el("h3", {}, `${p.sku} · ${p.name}`),
    el("dl", { class: "facts" },
      el("dt", {}, "On hand"), el("dd", { "data-testid": "on-hand" }, p.onHand),
      el("dt", {}, "Available to promise"), el("dd", {}, p.availableToPromise),
      el("dt", {}, "Units backordered"), el("dd", { "data-testid": "units-backordered" }, p.unitsBackordered),
      el("dt", {}, "Supplier"), el("dd", {}, p.supplier ? `${p.supplier.name}` : "—"),
      el("dt", {}, "Lead time"), el("dd", {}, p.leadTimeDays !== null ? `${p.leadTimeDays} days` : "default")));
  renderAdvice(p, data.reorderSuggestions ? data.reorderSuggestions.suggestions[0] : null);
  const pos = data.purchaseOrders.nodes;
  $("queue-pos").querySelector("tbody").replaceChildren(...(pos.length ? pos.map((po) => {
    const line = po.lines.find((l) => l.sku === p.sku) || { quantity: 0, receivedQuantity: 0, outstandingQuantity: 0 };
    return el("tr", { "data-testid": "po-row", "data-number": po.number },
      el("th", { scope: "row" }, po.number), el("td", { "data-testid": "po-date" }, formatDate(po.expectedDate)),
      el("td", { class: "num" }, line.quantity), el("td", { class: "num" }, line.receivedQuantity),
      el("td", { class: "num", "data-testid": "po-outstanding" }, line.outstandingQuantity), el("td", {}, words(po.status)),
      el("td", { class: "row-actions" },
        button("Change", () => changePurchaseOrder(po), { "aria-label": `Change ${po.number}` }),
        button("Receive", () => receivePurchaseOrder(po), { "aria-label": `Receive ${po.number}` })));
  }) : [el("tr", {}, el("td", { colspan: 7, class: "note" }, "No purchase order is bringing this SKU."))]));
  const queue = p.queue;  // in queue order, position 1 first
  $("queue-list").querySelector("tbody").replaceChildren(...queue.map((b) => el("tr",
    { "data-testid": "queue-row", "data-id": b.id, "data-customer": b.customerEmail },
    el("td", { class: "num", "data-testid": "position" }, b.queuePosition || "—"),
    el("td", {}, button(b.customerEmail, () => go("customer", b.customerEmail))),
    el("td", {}, b.order ? b.order.number : "—"),
    el("td", { class: "num", "data-testid": "waiting" }, b.backorderedQuantity),
    el("td", { class: "num" }, b.allocatedQuantity),
    el("td", { "data-testid": "eta" }, etaText(b.eta), b.eta && b.eta.purchaseOrderNumber ? el("span", { class: "note" }, ` ${b.eta.purchaseOrderNumber}`) : null),
    el("td", { class: "why" }, b.allocationReason || "first come, first served",
      b.priority ? el("span", { class: "note" }, ` · priority ${b.priority}${b.priorityReason ? `: ${b.priorityReason}` : ""}`) : null),
    el("td", { class: "row-actions" }, backorderActions(b, p)))));
  $("queue-empty").hidden = queue.length > 0;
}

// reorder advice beside the queue: the figures reorderSuggestions gives, and an order of the suggested quantity
function renderAdvice(product, a) {
  if (!a) {
    $("queue-advice").replaceChildren(el("p", { class: "note" }, "No reorder advice for this SKU."));
    return;
  }
  const lead = `${a.leadTimeDays} days` + (a.leadTimeStdDays ? ` ± ${a.leadTimeStdDays}` : "") +
    (a.leadTimeLearned ? " (from deliveries)" : " (stated)");
  const order = a.suggestedQuantity > 0 && a.supplier
    ? button(`Order ${a.suggestedQuantity} from ${a.supplier.name}`, () => orderSuggested(product, a),
      { "data-testid": "advice-order" })
    : null;
  $("queue-advice").replaceChildren(
    el("h3", {}, "Reorder advice ", el("span", { class: "note" }, a.belowReorderPoint ? "below the reorder point" : "stock is enough")),
    el("dl", { class: "facts" },
      el("dt", {}, "Demand"), el("dd", {}, `${a.demandPerDay.toFixed(2)} a day (Croston)`),
      el("dt", {}, "Lead time"), el("dd", {}, lead),
      el("dt", {}, "Safety stock"), el("dd", {}, a.safetyStock),
      el("dt", {}, "Reorder point"), el("dd", { "data-testid": "advice-reorder-point" }, a.reorderPoint),
      el("dt", {}, "Position"), el("dd", {}, `${a.inventoryPosition} (${a.available} available + ${a.onOrder} on order − ${a.waiting} waiting)`),
      el("dt", {}, "Suggested order"), el("dd", { "data-testid": "advice-quantity" }, a.suggestedQuantity)),
    order);
}

async function orderSuggested(product, a) {
  const soon = new Date(Date.now() + Math.round(a.leadTimeDays) * 86400000).toISOString().slice(0, 10);
  const done = await confirmAction({
    title: `Order ${product.sku}`, confirm: "Create purchase order",
    what: `A purchase order to ${a.supplier.name} for the suggested ${a.suggestedQuantity} units (waiting backorders, demand over the lead time and safety stock, less stock and what is on order).`,
    fields: [{ name: "expectedDate", label: "Expected date", type: "date", value: soon, required: true }],
    run: async (v) => (await gql(`mutation($input: CreatePurchaseOrderInput!) { createPurchaseOrder(input: $input) {
      purchaseOrder { id number } userErrors { field message code line } } }`,
    { input: { supplierId: a.supplier.id, expectedDate: v.expectedDate, fromSuggestions: [product.sku] } })).createPurchaseOrder,
  });
  if (done && done.purchaseOrder) await afterAction(`${done.purchaseOrder.number} created.`);
}

function backorderActions(b, product) {
  const who = `${b.customerEmail}'s backorder of ${b.backorderedQuantity} × ${b.sku}`;
  return [
    button("Cancel", () => cancelBackorder(b, who), { "aria-label": `Cancel ${who}` }),
    button("Reprioritise", () => reprioritize(b, who), { "aria-label": `Reprioritise ${who}` }),
    product && product.substitutes.length
      ? button("Offer substitute", () => offerSubstitute(b, product, who), { "aria-label": `Offer substitute for ${who}` })
      : null,
    b.preferences ? button("Customer's limits", () => setLimits(b, who), { "aria-label": `Customer's limits for ${who}` })
      : null,
    product && b.declinedSubstitutes && product.substitutes.some((s) => !b.declinedSubstitutes.includes(s.sku))
      ? button("Decline substitute", () => declineSubstitute(b, product, who),
        { "aria-label": `Decline substitute for ${who}` })
      : null,
  ];
}

const CONSENTS = [["ASK", "Ask them first"], ["NEVER", "Never offer one"],
  ["SAME_PRICE_OR_LOWER", "Take one in stock that costs no more"], ["ANY_LISTED", "Take any listed one in stock"]];

async function setLimits(b, who) {
  // the customer's own limits, set for them (on the phone, say): cancelled automatically when not here by the date
  const done = await confirmAction({
    title: "Customer's limits", confirm: "Save limits",
    what: `For ${who}: past the date (expected later, or still waiting on it) it is cancelled and they are told why.`,
    fields: [
      { name: "cancelIfNotBy", label: "Cancel if not here by (empty: no limit)", type: "date",
        value: b.preferences.cancelIfNotBy || "" },
      { name: "substitutes", label: "Substitutes", options: CONSENTS, value: b.preferences.substitutes },
    ],
    run: async (v) => (await gql(`mutation($input: SetBackorderPreferencesInput!) { setBackorderPreferences(input: $input) {
      backorder { id status } userErrors { field message code line } } }`,
    { input: { backorderId: b.id, cancelIfNotBy: v.cancelIfNotBy || null, substitutes: v.substitutes } })).setBackorderPreferences,
  });
  if (done) await afterAction(`Limits saved: ${who}.`);
}

async function declineSubstitute(b, product, who) {
  const open = product.substitutes.filter((s) => !b.declinedSubstitutes.includes(s.sku));
  const done = await confirmAction({
    title: "Decline a substitute", confirm: "Decline it",
    what: `The customer does not want it: it is never offered again for ${who}, and the decline is in the history.`,
    fields: [{ name: "substituteSku", label: "Substitute", options: open.map((s) => [s.sku, `${s.sku} · ${s.name}`]) }],
    run: async (v) => (await gql(`mutation($input: DeclineSubstituteInput!) { declineSubstitute(input: $input) {
      backorder { id } userErrors { field message code line } } }`,
    { input: { backorderId: b.id, substituteSku: v.substituteSku } })).declineSubstitute,
  });
  if (done) await afterAction(`Substitute declined: ${who}.`);
}

async function afterAction(message) {
  announce(message);
  if (state.view === "queue" && state.queueSku) await loadQueue(state.queueSku);
  if (state.view === "customer" && state.customer) await openCustomer(state.customer);
}

async function cancelBackorder(b, who) {
  const done = await confirmAction({
    title: "Cancel backordered units", what: `Cancel ${who}. Units set aside for it go to the next in line.`,
    danger: true, confirm: "Cancel units",
    fields: [
      { name: "quantity", label: "Units to cancel (empty: all still owed)", type: "number", min: 1, max: b.quantity || undefined },
      { name: "reason", label: "Reason", type: "textarea", required: true },
    ],
    run: async (v) => (await gql(`mutation($input: CancelBackorderInput!) { cancelBackorder(input: $input) {
      backorder { id status cancelledQuantity } userErrors { field message code line } } }`,
    { input: { id: b.id, quantity: v.quantity, reason: v.reason } })).cancelBackorder,
  });
  if (done) await afterAction(`Cancelled: ${who}.`);
}

async function reprioritize(b, who) {
  const done = await confirmAction({
    title: "Reprioritise", what: `Move ${who} in the queue. Higher is served first; 0 is the default.`,
    confirm: "Set priority",
    fields: [
      { name: "priority", label: "Priority (-1000 to 1000)", type: "number", value: b.priority || 0, min: -1000, max: 1000, required: true },
      { name: "reason", label: "Reason", type: "textarea", required: true },
    ],
    run: async (v) => (await gql(`mutation($input: ReprioritizeBackorderInput!) { reprioritizeBackorder(input: $input) {
      backorder { id priority queuePosition } userErrors { field message code line } } }`,
    { input: { id: b.id, priority: v.priority, reason: v.reason } })).reprioritizeBackorder,
  });
  if (done) await afterAction(`Priority set: ${who}.`);
}

async function offerSubstitute(b, product, who) {
  const done = await confirmAction({
    title: "Offer a substitute", what: `Suggest an alternative to ${b.customerEmail} for ${b.sku}. They are told and choose.`,
    confirm: "Offer it",
    fields: [{ name: "substituteSku", label: "Substitute", options: product.substitutes.map((s) =>
      [s.sku, `${s.sku} · ${s.name} (${s.availableToPromise} available)`]) }],
    run: async (v) => (await gql(`mutation($input: OfferSubstituteInput!) { offerSubstitute(input: $input) {
      backorder { id } userErrors { field message code line } } }`,
    { input: { backorderId: b.id, substituteSku: v.substituteSku } })).offerSubstitute,
  });
  if (done) await afterAction(`Substitute offered: ${who}.`);
}

async function changePurchaseOrder(po) {
  const fields = [{ name: "expectedDate", label: "Expected date", type: "date", value: po.expectedDate, required: true }];
  po.lines.forEach((l, i) => fields.push({ name: `line${i}`, label: `Units of ${l.sku} ordered`, type: "number",
    value: l.quantity, min: 0, errorFor: `lines@${i} lines.quantity@${i}` }));
  const done = await confirmAction({
    title: `Change ${po.number}`, what: `Move the date or change quantities. Every ETA on it is re-projected and customers are told.`,
    confirm: "Save changes",
    fields,
    run: async (v) => {
      const lines = po.lines.map((l, i) => ({ sku: l.sku, quantity: v[`line${i}`] }))
        .filter((l, i) => l.quantity !== null && l.quantity !== po.lines[i].quantity);
      const input = { id: po.id, lines };
      if (v.expectedDate !== po.expectedDate) input.expectedDate = v.expectedDate;
      return (await gql(`mutation($input: UpdatePurchaseOrderInput!) { updatePurchaseOrder(input: $input) {
        purchaseOrder { id expectedDate } userErrors { field message code line } } }`, { input })).updatePurchaseOrder;
    },
  });
  if (done) await afterAction(`${po.number} changed.`);
}

async function receivePurchaseOrder(po) {
  const fields = po.lines.map((l, i) => ({ name: `line${i}`, label: `Units of ${l.sku} arrived (outstanding ${l.outstandingQuantity})`,
    type: "number", value: l.outstandingQuantity, min: 0, errorFor: `lines@${i} lines.quantity@${i}` }));
  const done = await confirmAction({
    title: `Receive ${po.number}`, what: "Record what arrived: all that is outstanding, or part of it. Stock goes to the queue in order.",
    confirm: "Receive", fields,
    run: async (v) => {
      const whole = po.lines.every((l, i) => v[`line${i}`] === l.outstandingQuantity);
      const lines = whole ? null : po.lines.map((l, i) => ({ sku: l.sku, quantity: v[`line${i}`] || 0 }))
        .filter((l) => l.quantity > 0);
      return (await gql(`mutation($input: ReceivePurchaseOrderInput!) { receivePurchaseOrder(input: $input) {
        purchaseOrder { id status } userErrors { field message code line } } }`, { input: { id: po.id, lines } })).receivePurchaseOrder;
    },
  });
  if (done) await afterAction(`${po.number} received.`);
}

// live: the queue re-reads itself when a committed change to this SKU arrives
function startLive(sku) {
  stopLive();
  const socket = subscribe({
    id: "queue",
    query: `subscription($sku: String) { backorderUpdates(filter: {sku: $sku}) { kind message backorderId } }`,
    variables: { sku },
    onAck: () => {
      state.retry = 0;
      $("connection").hidden = true;
      $("queue-live").hidden = false;
    },
    onNext: (data) => onQueueUpdate(data.backorderUpdates),
    onEnd: () => { stopLive(); start(); },
    onClose: () => {
      if (state.socket !== socket) return;
      state.socket = null;
      $("queue-live").hidden = true;
      $("connection").textContent = "Live updates paused: reconnecting…";
      $("connection").hidden = false;
      const delay = Math.min(30000, 1000 * 2 ** state.retry++);
      setTimeout(() => { if (state.view === "queue" && state.queueSku === sku && !state.socket) { startLive(sku); loadQueue(sku); } }, delay);
    },
  });
  state.socket = socket;
}

function stopLive() {
  const socket = state.socket;
  state.socket = null;
  if (socket) socket.close();
  if ($("queue-live")) $("queue-live").hidden = true;
}

let reloadTimer = null;
function onQueueUpdate(update) {
  const note = `${formatDateTime(new Date().toISOString())}: ${update.message}`;
  $("queue-note").textContent = note;
  clearTimeout(reloadTimer);
  // a receipt or cancellation sends one event per backorder it touched: re-read once for the burst
  reloadTimer = setTimeout(() => { if (state.queueSku) loadQueue(state.queueSku); }, 150);
}

// -- customer ----------------------------------------------------------------------------------
const MESSAGES = `totalCount pageInfo { hasNextPage endCursor } nodes { id kind channel recipient subject
  status deliveryStatus attempts lastError createdAt sentAt nextAttemptAt }`;
const CUSTOMER_QUERY = `query Customer($email: String!) {
  orders(filter: {customerEmail: $email}, first: 50) { totalCount nodes { id number placedAt channel shipComplete
    customer { email name phone tier }
    lines { id sku quantity allocatedQuantity shippedQuantity product { name substitutes { sku name availableToPromise } }
      backorder { ${BACKORDER_ROW} quantity priority preferences { cancelIfNotBy substitutes } declinedSubstitutes } } } }
  customerPreferences(email: $email) { byEmail bySms smsStopped phone quietHoursStart quietHoursEnd timezone language }
  notifications(filter: {customerEmail: $email}, first: 25) { ${MESSAGES} }
}`;
const MESSAGES_QUERY = `query Messages($email: String!, $after: String) {
  notifications(filter: {customerEmail: $email}, first: 25, after: $after) { ${MESSAGES} } }`;

async function openCustomer(email) {
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
    return;
  }
  state.customer = email;
  const who = orders.length ? orders[0].customer : { email, name: "", phone: null, tier: null };
  const p = data.customerPreferences;
  const told = [p.byEmail ? "email" : null, p.bySms ? `SMS${p.smsStopped ? " (number replied STOP)" : ""}` : null]
    .filter(Boolean).join(" and ") || "nothing (opted out)";
  $("customer-card").replaceChildren(
    el("h3", {}, who.name || who.email),
    el("dl", { class: "facts" },
      el("dt", {}, "Email"), el("dd", {}, who.email),
      el("dt", {}, "Phone"), el("dd", {}, who.phone || p.phone || "—"),
      el("dt", {}, "Tier"), el("dd", {}, words(who.tier) || "—"),
      el("dt", {}, "Told by"), el("dd", { "data-testid": "told-by" }, told),
      el("dt", {}, "Quiet hours"), el("dd", {}, p.quietHoursStart ? `${p.quietHoursStart.slice(0, 5)}–${(p.quietHoursEnd || "").slice(0, 5)}` : "none"),
      el("dt", {}, "Time zone, language"), el("dd", {}, `${p.timezone}, ${p.language}`)),
    el("div", { class: "row-actions" }, button("Send a portal link", () => portalLink(who.email, null))),
    el("p", { id: "portal-link-result", class: "note", role: "status", "data-testid": "portal-link" }));
  $("customer-orders").replaceChildren(...orders.map(renderCustomerOrder));
  $("customer-messages").querySelector("tbody").replaceChildren();
  showMessages(data.notifications);
  $("customer-body").hidden = false;
}

// newest first, 25 at a time: "More messages" asks for the next page
function showMessages(page) {
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
  $("messages-count").textContent = `${body.children.length} of ${page.totalCount} shown.`;
}

async function moreMessages() {
  try {
    const data = await gql(MESSAGES_QUERY, { email: state.customer, after: state.messagesAfter });
    showMessages(data.notifications);
  } catch (err) {
    $("messages-count").textContent = err.message;
  }
}

function renderCustomerOrder(order) {
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
        el("td", { class: "num" }, l.shippedQuantity),
        el("td", {}, l.backorder ? [statusChip(l.backorder.status), ` ${l.backorder.backorderedQuantity} waiting`,
          l.backorder.queuePosition ? `, #${l.backorder.queuePosition}` : "", `, ETA ${etaText(l.backorder.eta)}`] : "—"),
        el("td", { class: "row-actions" }, l.backorder && ["WAITING", "PARTIALLY_ALLOCATED"].includes(l.backorder.status)
          ? backorderActions(l.backorder, l.product) : null))))),
    el("div", { class: "row-actions" },
      button("Ship allocated units", () => shipAllocated(order), { "aria-label": `Ship allocated units of ${order.number}` }),
      button("Portal link for this order", () => portalLink(order.customer.email, order.id))));
}

async function shipAllocated(order) {
  const done = await confirmAction({
    title: `Ship ${order.number}`, what: "Record a shipment of every unit allocated to this order and not yet shipped.",
    confirm: "Record shipment",
    run: async () => (await gql(`mutation($input: ShipAllocatedInput!) { shipAllocated(input: $input) {
      shipment { id units } userErrors { field message code line } } }`, { input: { orderId: order.id } })).shipAllocated,
  });
  if (done) await afterAction(`Shipped ${done.shipment ? done.shipment.units : 0} units of ${order.number}.`);
}

async function portalLink(email, orderId) {
  const done = await confirmAction({
    title: "Portal link", what: `A single-use sign-in link for ${email}${orderId ? " (this order only)" : ""}: emailed to them, and shown here to read out.`,
    confirm: "Create and send",
    run: async () => (await gql(`mutation($input: CustomerPortalLinkInput!) { customerPortalLink(input: $input) {
      url expiresAt userErrors { field message code } } }`, { input: { email, orderId, send: true } })).customerPortalLink,
  });
  if (!done) return;
  const out = $("portal-link-result");
  out.replaceChildren(`Sent to ${email}. Link (valid until ${formatDateTime(done.expiresAt)}): `,
    el("input", { readonly: true, value: done.url, "aria-label": "Portal link", class: "link-box" }));
  announce(`Portal link sent to ${email}.`);
}

async function retryMessage(n) {
  const done = await confirmAction({
    title: "Send again", what: `Send the ${words(n.channel)} "${n.subject || words(n.kind)}" to ${n.recipient} again.`,
    confirm: "Send again",
    run: async () => (await gql(`mutation($input: RetryNotificationInput!) { retryNotification(input: $input) {
      notification { id status } userErrors { field message code } } }`, { input: { id: n.id } })).retryNotification,
  });
  if (done) await afterAction(`Message to ${n.recipient} queued again.`);
}

// -- new order ---------------------------------------------------------------------------------
function addLine() {
  const box = $("order-lines");
  const i = box.children.length;
  const row = el("div", { class: "order-line", "data-testid": "line-input" },
    el("label", { for: `line-sku-${i}` }, `SKU (line ${i + 1})`),
    el("input", { id: `line-sku-${i}`, name: "sku", autocomplete: "off", "aria-describedby": `line-error-${i}` }),
    el("label", { for: `line-qty-${i}` }, "Quantity"),
    el("input", { id: `line-qty-${i}`, name: "quantity", type: "number", min: 1, step: 1, value: 1, "aria-describedby": `line-error-${i}` }),
    el("p", { id: `line-error-${i}`, class: "error", "data-error-for": `lines@${i} lines.sku@${i} lines.quantity@${i}` }));
  box.append(row);
  return row;
}

async function placeOrder(event) {
  event.preventDefault();
  const form = event.target;
  clearErrors(form);
  const lines = [...$("order-lines").children].map((row) => ({
    sku: row.querySelector("[name=sku]").value.trim(), quantity: Number(row.querySelector("[name=quantity]").value) }))
    .filter((l) => l.sku);
  const input = {
    customer: { email: form.email.value.trim(), name: form.name.value.trim(), phone: form.phone.value.trim() || null },
    channel: form.channel.value, lines, shipComplete: form.shipComplete.checked,
  };
  const summary = lines.map((l) => `${l.quantity} × ${l.sku}`).join(", ") || "no lines";
  let errors = null;
  const done = await confirmAction({
    title: "Place the order", what: `For ${input.customer.email || "?"} by ${words(input.channel)}: ${summary}. ` +
      "What is in stock is allocated now; the rest is backordered.",
    confirm: "Place order",
    run: async () => {
      const payload = (await gql(`mutation($input: PlaceOrderInput!) { placeOrder(input: $input) {
        order { id number lines { sku quantity allocatedQuantity } }
        backorders { id sku backorderedQuantity queuePosition eta { date confidence } }
        userErrors { field message code line } } }`, { input })).placeOrder;
      // errors belong beside the order form's fields, not in the dialog
      if (payload.userErrors.length) { errors = payload.userErrors; return {}; }
      return payload;
    },
  });
  if (errors) { showErrors(form, errors); return; }
  if (!done || !done.order) return;
  const out = $("order-result");
  out.replaceChildren(el("h3", {}, `Order ${done.order.number} placed`),
    el("ul", {}, done.order.lines.map((l) => el("li", {}, `${l.sku}: ${l.allocatedQuantity} of ${l.quantity} from stock`))),
    done.backorders.length ? el("ul", {}, done.backorders.map((b) => el("li", { "data-testid": "placed-backorder" },
      `${b.sku}: ${b.backorderedQuantity} backordered, position ${b.queuePosition || "—"}, ETA ${etaText(b.eta)}`))) : null,
    button("Open the customer", () => go("customer", input.customer.email)));
  out.hidden = false;
  out.focus();
  form.reset();
  $("order-lines").replaceChildren();
  addLine();
  announce(`Order ${done.order.number} placed.`);
}

// -- numbers -----------------------------------------------------------------------------------
async function loadNumbers() {
  let data;
  try {
    data = await gql(`query { kpis { openBackorders unitsWaiting unitsAllocatedNotShipped overdueBackorders
      skusWithBackorders orders ordersWithBackorders fillRate meanWaitDays
      ageBuckets { label minDays maxDays backorders units } } }`);
  } catch (err) {
    $("kpi-figures").replaceChildren(el("p", { class: "error" }, err.message));
    return;
  }
  const k = data.kpis;
  const figure = (label, value, id) => el("div", { class: "figure", "data-testid": id },
    el("span", { class: "value" }, value), el("span", { class: "label" }, label));
  $("kpi-figures").replaceChildren(
    figure("open backorders", k.openBackorders, "kpi-open"), figure("units waiting", k.unitsWaiting, "kpi-units"),
    figure("overdue", k.overdueBackorders, "kpi-overdue"),
    figure("fill rate", `${(k.fillRate * 100).toFixed(1)} %`, "kpi-fill"),
    figure("mean wait", k.meanWaitDays === null ? "—" : `${k.meanWaitDays.toFixed(1)} days`, "kpi-wait"),
    figure("allocated, not shipped", k.unitsAllocatedNotShipped, "kpi-allocated"),
    figure("SKUs with backorders", k.skusWithBackorders, "kpi-skus"),
    figure("orders with backorders", `${k.ordersWithBackorders} of ${k.orders}`, "kpi-orders"));
  $("kpi-charts").replaceChildren(
    barChart("Open backorders by age (days waiting)", k.ageBuckets.map((b) => [b.label, b.backorders]), "chart-backorders"),
    barChart("Units waiting by age (days waiting)", k.ageBuckets.map((b) => [b.label, b.units]), "chart-units"),
    shareChart("Fill rate: units allocated at placement", k.fillRate, "chart-fill"),
    shareChart("Overdue share of open backorders", k.openBackorders ? k.overdueBackorders / k.openBackorders : 0, "chart-overdue"));
}

// inline SVG, no library: a labelled bar per bucket, with the figure on the bar for screen readers too
function barChart(title, rows, id) {
  const width = 420, height = 200, pad = 28, max = Math.max(1, ...rows.map((r) => r[1]));
  const band = (width - pad * 2) / Math.max(1, rows.length);
  const bars = rows.map(([label, value], i) => {
    const h = Math.round((height - pad * 2) * value / max);
    const x = pad + i * band + band * 0.15, y = height - pad - h;
    return svg("g", { "data-testid": "bar" },
      svg("title", {}, `${label}: ${value}`),
      svg("rect", { x, y, width: band * 0.7, height: h, class: "bar" }),
      svg("text", { x: x + band * 0.35, y: y - 4, "text-anchor": "middle", class: "bar-value" }, value),
      svg("text", { x: x + band * 0.35, y: height - pad + 16, "text-anchor": "middle", class: "bar-label" }, label));
  });
  return el("figure", { class: "chart card", "data-testid": id },
    svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${title}: ` + rows.map((r) => `${r[0]} ${r[1]}`).join(", ") },
      svg("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, class: "axis" }), bars),
    el("figcaption", {}, title));
}

function shareChart(title, share, id) {
  const width = 420, height = 60, filled = Math.max(0, Math.min(1, share)) * (width - 4);
  const percent = `${(share * 100).toFixed(1)} %`;
  return el("figure", { class: "chart card", "data-testid": id },
    svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${title}: ${percent}` },
      svg("rect", { x: 2, y: 4, width: width - 4, height: 24, class: "track" }),
      svg("rect", { x: 2, y: 4, width: filled, height: 24, class: "bar" }),
      svg("text", { x: 2, y: 48, class: "share-value" }, percent)),
    el("figcaption", {}, title));
}

// -- tokens (admins) ---------------------------------------------------------------------------
async function loadTokens() {
  let data;
  try {
    data = await gql(`query { apiTokens { id name role createdAt lastUsedAt } }`);
  } catch (err) {
    $("token-list").querySelector("tbody").replaceChildren(el("tr", {}, el("td", { colspan: 5, class: "error" }, err.message)));
    return;
  }
  $("token-list").querySelector("tbody").replaceChildren(...data.apiTokens.map((t) => el("tr", { "data-testid": "token-row", "data-name": t.name },
    el("th", { scope: "row" }, t.name), el("td", {}, words(t.role)), el("td", {}, formatDateTime(t.createdAt)),
    el("td", {}, formatDateTime(t.lastUsedAt)),
    el("td", { class: "row-actions" }, button("Revoke", () => revokeToken(t), { "aria-label": `Revoke ${t.name}`, class: "small danger" })))));
}

async function createToken(event) {
  event.preventDefault();
  const form = event.target;
  clearErrors(form);
  const input = { name: form.name.value.trim(), role: form.role.value };
  let errors = null;
  const done = await confirmAction({
    title: "Create a token", what: `A new ${words(input.role)} token named "${input.name}". Its secret is shown once.`,
    confirm: "Create",
    run: async () => {
      const payload = (await gql(`mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) {
        apiToken { id name role } secret userErrors { field message code } } }`, { input })).createApiToken;
      if (payload.userErrors.length) { errors = payload.userErrors; return {}; }
      return payload;
    },
  });
  if (errors) { showErrors(form, errors); return; }
  if (!done || !done.secret) return;
  const box = $("token-secret");
  box.replaceChildren(el("p", {}, `Token for ${done.apiToken.name}: copy it now, it is not shown again.`),
    el("input", { readonly: true, value: done.secret, "aria-label": "New token's secret", class: "link-box", "data-testid": "secret" }),
    button("Done: hide it", () => { box.replaceChildren(); box.hidden = true; }));
  box.hidden = false;
  form.reset();
  await loadTokens();
  box.querySelector("input").select();
}

async function revokeToken(t) {
  const done = await confirmAction({
    title: "Revoke token", what: `Revoke "${t.name}" (${words(t.role)}). Requests and sessions with it are refused from now on.`,
    danger: true, confirm: "Revoke",
    run: async () => (await gql(`mutation($input: RevokeApiTokenInput!) { revokeApiToken(input: $input) {
      revokedId userErrors { field message code } } }`, { input: { id: t.id } })).revokeApiToken,
  });
  if (!done) return;
  announce(`Token ${t.name} revoked.`);
  await loadTokens();
}

// -- start -------------------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", () => {
  $("sign-in-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  $("find-form").addEventListener("submit", find);
  $("find-more").addEventListener("click", findPage);
  $("more-messages").addEventListener("click", moreMessages);
  $("queue-form").addEventListener("submit", (e) => { e.preventDefault(); go("queue", e.target.sku.value.trim()); });
  $("customer-form").addEventListener("submit", (e) => { e.preventDefault(); go("customer", e.target.email.value.trim()); });
  $("order-form").addEventListener("submit", placeOrder);
  $("add-line").addEventListener("click", () => addLine().querySelector("input").focus());
  $("token-form").addEventListener("submit", createToken);
  $("retry").addEventListener("click", start);
  for (const tab of document.querySelectorAll("#nav .tab[data-view]")) {
    tab.addEventListener("click", () => go(tab.dataset.view));
  }
  // keyboard: Alt+1..6 switch views, "/" jumps to the search box
  document.addEventListener("keydown", (event) => {
    if (!state.viewer || $("confirm").open) return;
    if (event.altKey && /^[1-6]$/.test(event.key)) {
      const view = VIEWS[Number(event.key) - 1];
      if (view !== "tokens" || state.viewer.role === "admin") { event.preventDefault(); go(view); }
    } else if (event.key === "/" && !/^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName)) {
      event.preventDefault();
      go("find");
      $("find-text").focus();
    }
  });
  window.addEventListener("popstate", route);
  start();
});
