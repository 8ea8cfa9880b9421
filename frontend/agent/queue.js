// The agent console's SKU queue: the product, its purchase orders, reorder advice and the queue of
// backorders with their actions, kept live over graphql-transport-ws.

import { el, fill } from "../dom.js";
import { $, announce, button, clearErrors, confirmAction, etaText, formatDate, formatDateTime, gql, money, showErrors, state, words } from "./core.js";
import { openCustomer } from "./customer.js";
import { QUEUE_QUERY } from "./documents.js";
import { watch } from "./live.js";
import { go } from "./session.js";

// -- the SKU queue -----------------------------------------------------------------------------
export async function openQueue(sku) {
  $("queue-form").sku.value = sku;
  clearErrors($("queue-form"));
  const ok = await loadQueue(sku);
  if (ok) startLive(sku);
}

export async function loadQueue(sku) {
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

export function renderQueue(data) {
  const p = data.product;
  fill($("queue-product"), 
    el("h3", {}, `${p.sku} · ${p.name}`),
    el("dl", { class: "facts" },
      el("dt", {}, "On hand"), el("dd", { "data-testid": "on-hand" }, p.onHand),
      el("dt", {}, "Available to promise"), el("dd", {}, p.availableToPromise),
      el("dt", {}, "Units backordered"), el("dd", { "data-testid": "units-backordered" }, p.unitsBackordered),
      el("dt", {}, "Supplier"), el("dd", {}, p.supplier ? `${p.supplier.name}` : "—"),
      el("dt", {}, "Lead time"), el("dd", {}, p.leadTimeDays !== null ? `${p.leadTimeDays} days` : "the supplier's")),
    stockTable(p, data.locations),
    el("div", { class: "row-actions" },
      button("Receive stock", () => receiveStock(p, data.locations), { "aria-label": `Receive stock of ${p.sku}` }),
      button("Count or adjust", () => adjustStock(p, data.locations), { "aria-label": `Count or adjust stock of ${p.sku}` })));
  renderAdvice(p, data.reorderSuggestions ? data.reorderSuggestions.suggestions[0] : null);
  const pos = data.purchaseOrders.nodes;
  fill($("queue-pos").querySelector("tbody"), ...(pos.length ? pos.map((po) => {
    const line = po.lines.find((l) => l.sku === p.sku) || { quantity: 0, receivedQuantity: 0, outstandingQuantity: 0 };
    return el("tr", { "data-testid": "po-row", "data-number": po.number },
      el("th", { scope: "row" }, po.number), el("td", { "data-testid": "po-date" }, formatDate(po.expectedDate)),
      el("td", { class: "num" }, line.quantity), el("td", { class: "num" }, line.receivedQuantity),
      el("td", { class: "num", "data-testid": "po-outstanding" }, line.outstandingQuantity), el("td", {}, words(po.status)),
      el("td", { class: "row-actions" },
        button("Change", () => changePurchaseOrder(po), { "aria-label": `Change ${po.number}` }),
        button("Receive", () => receivePurchaseOrder(po, data.locations), { "aria-label": `Receive ${po.number}` })));
  }) : [el("tr", {}, el("td", { colspan: 7, class: "note" }, "No purchase order is bringing this SKU."))]));
  fill($("queue-po-actions"), p.supplier
    ? button(`New purchase order to ${p.supplier.name}`, () => newPurchaseOrder(p, data.locations), { "data-testid": "new-po" })
    : el("span", { class: "note" }, "No supplier is set for this SKU: a purchase order needs one (upsertProduct)."));
  const queue = p.queue;  // in queue order, position 1 first
  fill($("queue-list").querySelector("tbody"), ...queue.map((b) => el("tr",
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

// stock per location (only the locations holding or having held it): where the units are, what is set aside
function stockTable(p, locations) {
  if (!p.stock.length) return el("p", { class: "note", "data-testid": "stock-none" }, "No stock recorded at any location.");
  const name = (code) => (locations.find((l) => l.code === code) || { name: "" }).name;
  return el("div", { class: "table-wrap" }, el("table", { class: "grid compact", "data-testid": "stock" },
    el("caption", { class: "visually-hidden" }, `Stock of ${p.sku} by location`),
    el("thead", {}, el("tr", {}, ["Location", "On hand", "Set aside", "Safety stock", "Available"].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, p.stock.map((s) => el("tr", { "data-testid": "stock-row", "data-location": s.location },
      el("th", { scope: "row" }, s.location, name(s.location) ? el("span", { class: "note" }, ` ${name(s.location)}`) : null),
      el("td", { class: "num" }, s.onHand), el("td", { class: "num" }, s.allocated), el("td", { class: "num" }, s.safetyStock),
      el("td", { class: "num" }, s.availableToPromise))))));
}

function locationField(locations, stock = []) {
  // the location most of this SKU is at first, else MAIN
  const held = [...stock].sort((a, b) => b.onHand - a.onHand)[0];
  const first = held ? held.location : "MAIN";
  return { name: "location", label: "Location", value: first,
    options: locations.map((l) => [l.code, `${l.code} · ${l.name}`]) };
}

// units that arrived without a purchase order (a return, a found box): they go to the queue in order at once
export async function receiveStock(p, locations) {
  const done = await confirmAction({
    title: `Receive stock of ${p.sku}`, confirm: "Receive",
    what: "Units that arrived without a purchase order (a PO's units: use its Receive). Waiting customers get them first, in queue order.",
    fields: [
      { name: "quantity", label: "Units arrived", type: "number", min: 1, required: true },
      locationField(locations, p.stock),
      { name: "note", label: "Note (optional)", hint: "e.g. a customer's return" },
    ],
    run: async (v) => (await gql(`mutation($input: ReceiveStockInput!) { receiveStock(input: $input) {
      product { sku onHand } userErrors { field message code } } }`,
    { input: { sku: p.sku, quantity: v.quantity, location: v.location, note: v.note || null } })).receiveStock,
  });
  if (done && done.product) await afterAction(`${p.sku}: received; ${done.product.onHand} on hand.`);
}

// a count that differs from the books, damage, loss; or the safety stock kept back at a location
export async function adjustStock(p, locations) {
  const done = await confirmAction({
    title: `Count or adjust ${p.sku}`, confirm: "Adjust",
    what: "Units found (+) or lost, damaged, miscounted (−), with the reason; and, if it changes, the safety stock kept back from customers there.",
    fields: [
      locationField(locations, p.stock),
      { name: "delta", label: "Change in units on hand (+ or −)", type: "number", value: 0, required: true },
      { name: "reason", label: "Reason", type: "textarea", required: true },
      { name: "safetyStock", label: "Safety stock there (optional)", type: "number", min: 0 },
    ],
    run: async (v) => (await gql(`mutation($input: AdjustStockInput!) { adjustStock(input: $input) {
      product { sku onHand } userErrors { field message code } } }`,
    { input: { sku: p.sku, delta: v.delta, reason: v.reason, location: v.location, safetyStock: v.safetyStock } })).adjustStock,
  });
  if (done && done.product) await afterAction(`${p.sku}: adjusted; ${done.product.onHand} on hand.`);
}

// a purchase order of any quantity, when the agent knows better than the advice (a promotion coming, a big order)
export async function newPurchaseOrder(p, locations) {
  // the lead time the advice worked with (learnt from deliveries, else stated), else the product's
  const advice = state.queue && state.queue.reorderSuggestions ? state.queue.reorderSuggestions.suggestions[0] : null;
  const lead = Math.round((advice && advice.leadTimeDays) ?? p.leadTimeDays ?? 14);
  const soon = new Date(Date.now() + lead * 86400000).toISOString().slice(0, 10);
  const done = await confirmAction({
    title: `Order ${p.sku} from ${p.supplier.name}`, confirm: "Create purchase order",
    what: "Waiting customers' ETAs are projected from it at once, and they are told when theirs moves.",
    fields: [
      { name: "quantity", label: "Units to order", type: "number", min: 1, required: true, errorFor: "lines@0 lines.quantity@0 lines" },
      { name: "expectedDate", label: "Expected date", type: "date", value: soon, required: true },
      { ...locationField(locations), label: "Deliver to" },
      { name: "number", label: "PO number (optional)", hint: "Empty: the desk gives it one." },
    ],
    run: async (v) => (await gql(`mutation($input: CreatePurchaseOrderInput!) { createPurchaseOrder(input: $input) {
      purchaseOrder { id number } userErrors { field message code line } } }`,
    { input: { supplierId: p.supplier.id, expectedDate: v.expectedDate, lines: [{ sku: p.sku, quantity: v.quantity }],
      location: v.location, number: v.number || null } })).createPurchaseOrder,
  });
  if (done && done.purchaseOrder) await afterAction(`${done.purchaseOrder.number} created.`);
}

// reorder advice beside the queue: the figures reorderSuggestions gives, and an order of the suggested quantity
export function renderAdvice(product, a) {
  if (!a) {
    fill($("queue-advice"), el("p", { class: "note" }, "No reorder advice for this SKU."));
    return;
  }
  const lead = `${a.leadTimeDays} days` + (a.leadTimeStdDays ? ` ± ${a.leadTimeStdDays}` : "") +
    (a.leadTimeLearned ? " (from deliveries)" : " (stated)");
  const order = a.suggestedQuantity > 0 && a.supplier
    ? button(`Order ${a.suggestedQuantity} from ${a.supplier.name}`, () => orderSuggested(product, a),
      { "data-testid": "advice-order" })
    : null;
  fill($("queue-advice"), 
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

export async function orderSuggested(product, a) {
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

export function backorderActions(b, product) {
  const who = `${b.customerEmail}'s backorder of ${b.backorderedQuantity} × ${b.sku}`;
  return [
    button("Cancel", () => cancelBackorder(b, who), { "aria-label": `Cancel ${who}` }),
    button("Reprioritise", () => reprioritize(b, who), { "aria-label": `Reprioritise ${who}` }),
    product && product.substitutes.length
      ? button("Offer substitute", () => offerSubstitute(b, product, who), { "aria-label": `Offer substitute for ${who}` })
      : null,
    button("Offer goodwill", () => offerGoodwill(b, product, who), { "aria-label": `Offer goodwill to ${who}` }),
    b.backorderedQuantity > 0 && b.substitutes && b.substitutes.length
      ? button("Take substitute", () => takeSubstitute(b, who), { "aria-label": `Take substitute for ${who}` })
      : null,
    b.preferences ? button("Customer's limits", () => setLimits(b, who), { "aria-label": `Customer's limits for ${who}` })
      : null,
    product && b.declinedSubstitutes && product.substitutes.some((s) => !b.declinedSubstitutes.includes(s.sku))
      ? button("Decline substitute", () => declineSubstitute(b, product, who),
        { "aria-label": `Decline substitute for ${who}` })
      : null,
  ];
}

export const CONSENTS = [["ASK", "Ask them first"], ["NEVER", "Never offer one"],
  ["SAME_PRICE_OR_LOWER", "Take one in stock that costs no more"], ["ANY_LISTED", "Take any listed one in stock"]];

export async function setLimits(b, who) {
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

export async function declineSubstitute(b, product, who) {
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

export async function afterAction(message) {
  announce(message);
  if (state.view === "queue" && state.queueSku) await loadQueue(state.queueSku);
  if (state.view === "customer" && state.customer) await openCustomer(state.customer);
}

export async function cancelBackorder(b, who) {
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

export async function reprioritize(b, who) {
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

export async function offerSubstitute(b, product, who) {
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

// a credit in the order's currency and/or a discount code, with why: the customer is told, the note stays ours
export async function offerGoodwill(b, product, who) {
  const priced = (b.substitutes || []).find((s) => s.priceDifference);
  const currency = priced ? priced.priceDifference.currency : (product && product.price ? product.price.currency : "");
  const done = await confirmAction({
    title: "Offer goodwill", confirm: "Give it",
    what: `Give ${b.customerEmail} a credit (in the currency they paid in) and/or a discount code for the wait on `
      + `${b.sku}. They are told once, in their language; your note is for the shop only.`,
    fields: [
      { name: "amount", label: "Credit amount (optional)", errorFor: "credit.amount credit" },
      { name: "currency", label: "Credit currency", value: currency, errorFor: "credit.currency" },
      { name: "discountCode", label: "Discount code (optional)" },
      { name: "note", label: "Note (why; staff only)", type: "textarea", required: true },
    ],
    run: async (v) => (await gql(`mutation($input: OfferGoodwillInput!) { offerGoodwill(input: $input) {
      backorder { id } userErrors { field message code } } }`,
    { input: { backorderId: b.id, note: v.note, discountCode: v.discountCode || null,
      credit: v.amount ? { amount: v.amount, currency: v.currency } : null } })).offerGoodwill,
  });
  if (done && done.backorder) await afterAction(`Goodwill given: ${who}.`);
}

// the customer says yes on the phone: the substitute's units are theirs now, the waiting ones leave the queue
export async function takeSubstitute(b, who) {
  const price = (s) => {
    if (!s.priceDifference) return "no exchange rate to compare its price: set one under Locations & rates";
    const amount = Number(s.priceDifference.amount);
    if (amount === 0) return "same price";
    const each = money({ ...s.priceDifference, amount: String(Math.abs(amount)) });
    return amount > 0 ? `${each} more each` : `${each} less each`;
  };
  const done = await confirmAction({
    title: "Take a substitute for the customer", confirm: "Take it",
    what: `On the customer's word: ${b.backorderedQuantity} units of the substitute go on their order instead of `
      + `waiting for ${b.sku}; the waiting units leave the queue and they are told what they got.`,
    fields: [{ name: "substituteSku", label: "Substitute", options: b.substitutes.map((s) => [s.product.sku,
      `${s.product.sku} · ${s.product.name} · ${price(s)}${s.available ? "" : " · not enough in stock"}`]) }],
    run: async (v) => (await gql(`mutation($input: AcceptSubstituteInput!) { acceptSubstitute(input: $input) {
      backorder { id status } userErrors { field message code line } } }`,
    { input: { backorderId: b.id, substituteSku: v.substituteSku } })).acceptSubstitute,
  });
  if (done && done.backorder) await afterAction(`Substitute taken: ${who}.`);
}

export async function changePurchaseOrder(po) {
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

// what arrived, into the PO's own location unless the agent picks another of the shop's (unloaded where there was room)
export async function receivePurchaseOrder(po, locations) {
  const fields = po.lines.map((l, i) => ({ name: `line${i}`, label: `Units of ${l.sku} arrived (outstanding ${l.outstandingQuantity})`,
    type: "number", value: l.outstandingQuantity, min: 0, errorFor: `lines@${i} lines.quantity@${i}` }));
  const own = locations.some((l) => l.code === po.location) ? [] : [[po.location, po.location]];
  fields.push({ name: "location", label: "Received into", value: po.location,
    options: [...own, ...locations.map((l) => [l.code, `${l.code} · ${l.name}`])] });
  const done = await confirmAction({
    title: `Receive ${po.number}`, what: "Record what arrived: all that is outstanding, or part of it, and where it was put. Stock goes to the queue in order.",
    confirm: "Receive", fields,
    run: async (v) => {
      const whole = po.lines.every((l, i) => v[`line${i}`] === l.outstandingQuantity);
      const lines = whole ? null : po.lines.map((l, i) => ({ sku: l.sku, quantity: v[`line${i}`] || 0 }))
        .filter((l) => l.quantity > 0);
      const location = v.location === po.location ? null : v.location;
      return (await gql(`mutation($input: ReceivePurchaseOrderInput!) { receivePurchaseOrder(input: $input) {
        purchaseOrder { id status } userErrors { field message code line } } }`, { input: { id: po.id, lines, location } })).receivePurchaseOrder;
    },
  });
  if (done) await afterAction(`${po.number} received.`);
}

// live: the queue re-reads itself when a committed change to this SKU arrives (live.js)
export function startLive(sku) {
  watch({ view: "queue", filter: { sku }, dot: "queue-live", onUpdate: onQueueUpdate,
    resync: () => { if (state.queueSku === sku) loadQueue(sku); } });
}

export let reloadTimer = null;
export function onQueueUpdate(update) {
  const note = `${formatDateTime(new Date().toISOString())}: ${update.message}`;
  $("queue-note").textContent = note;
  clearTimeout(reloadTimer);
  // a receipt or cancellation sends one event per backorder it touched: re-read once for the burst
  reloadTimer = setTimeout(() => { if (state.queueSku) loadQueue(state.queueSku); }, 150);
}
