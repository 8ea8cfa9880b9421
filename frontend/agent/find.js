// The agent console's Find view: backorders by order number, customer, phone, SKU, status or channel.

import { el, fill } from "../dom.js";
import { $, button, clearErrors, etaText, formatDateTime, gql, showErrors, state, statusChip, words } from "./core.js";
import { BACKORDER_ROW } from "./documents.js";
import { go } from "./session.js";

// -- find --------------------------------------------------------------------------------------
export async function find(event) {
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
  // what an earlier search found is not this one's answer: cleared now, and its pages still in flight dropped
  state.find = { filter: null, after: null };
  fill($("find-orders"));
  fill($("find-results").querySelector("tbody"));
  $("find-results").hidden = true;
  $("find-more").hidden = true;
  $("find-summary").textContent = "";
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
        fill($("find-orders"), el("div", { class: "card found", "data-testid": "found-order" },
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
  fill($("find-results").querySelector("tbody"));
  await findPage();
}

// customers by phone (its last digits) or name: each a button to their view
export async function findCustomers(text) {
  const data = await gql(`query($search: String!) { customers(search: $search, first: 20) { email name phone } }`,
    { search: text });
  fill($("find-orders"), ...data.customers.map((c) => el("p", { class: "card found", "data-testid": "found-customer" },
    button(`${c.name || c.email} · ${c.email}${c.phone ? ` · ${c.phone}` : ""}`, () => go("customer", c.email)))));
  return data.customers;
}

export async function findPage() {
  const search = state.find;
  const { filter, after } = search;
  let data;
  try {
    data = await gql(`query($filter: BackorderFilter, $after: String) {
      backorders(filter: $filter, first: 25, after: $after) { totalCount pageInfo { hasNextPage endCursor }
        nodes { ${BACKORDER_ROW} } } }`, { filter, after });
  } catch (err) {
    if (state.find === search) showErrors($("find-form"), [{ field: "text", message: err.message }]);
    return;
  }
  if (state.find !== search) return;  // a newer search was started meanwhile: its answer is the one to show
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
