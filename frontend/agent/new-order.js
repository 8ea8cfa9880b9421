// The agent console's New order view.

import { el, fill } from "../dom.js";
import { $, announce, button, clearErrors, confirmAction, etaText, gql, money, offerProducts, showErrors, words } from "./core.js";
import { go } from "./session.js";

// -- new order ---------------------------------------------------------------------------------
export function addLine() {
  const box = $("order-lines");
  const i = box.children.length;
  const described = `line-product-${i} line-error-${i}`;
  const row = el("div", { class: "order-line", "data-testid": "line-input" },
    el("label", { for: `line-sku-${i}` }, `SKU (line ${i + 1})`),
    el("input", { id: `line-sku-${i}`, name: "sku", autocomplete: "off", list: "product-options", spellcheck: "false",
      placeholder: "SKU or part of the name", "aria-describedby": described }),
    el("label", { for: `line-qty-${i}` }, "Quantity"),
    el("input", { id: `line-qty-${i}`, name: "quantity", type: "number", min: 1, step: 1, value: 1, "aria-describedby": described }),
    el("p", { id: `line-product-${i}`, class: "note line-product", "data-testid": "line-product", "aria-live": "polite" }),
    el("p", { id: `line-error-${i}`, class: "error", "data-error-for": `lines@${i} lines.sku@${i} lines.quantity@${i}` }));
  const sku = row.querySelector("[name=sku]");
  let timer = null;
  sku.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => lookUp(row), 200); });
  row.querySelector("[name=quantity]").addEventListener("input", () => describe(row));
  box.append(row);
  return row;
}

// -- what a line's SKU is, as it is typed: choices by SKU or name, and the product once the SKU is exact ---------
const LINE_PRODUCT = "product(sku: $sku) { sku name availableToPromise backorderPolicy price { amount currency } }";

export async function lookUp(row) {
  const text = row.querySelector("[name=sku]").value.trim();
  row.dataset.asked = text;
  if (!text) { row.product = undefined; describe(row); return; }
  let data;
  try {
    data = await offerProducts(text, LINE_PRODUCT, { sku: text });
  } catch (err) {
    return;  // a hint only: the order itself says what is wrong when it is placed
  }
  if (!data || row.dataset.asked !== text) return;  // typed on meanwhile: a newer answer is coming
  row.product = data.product;
  describe(row);
}

export function describe(row) {
  const out = row.querySelector("[data-testid=line-product]");
  const text = row.querySelector("[name=sku]").value.trim();
  const p = row.product;
  if (!text || p === undefined) { out.textContent = ""; return; }
  if (p === null) { out.textContent = `No product has the SKU ${text}: choose one from the list.`; return; }
  const quantity = Number(row.querySelector("[name=quantity]").value) || 0;
  const short = Math.max(0, quantity - Math.max(0, p.availableToPromise));
  const policy = p.backorderPolicy === "DENY" ? "not sold beyond stock" : `${short} to backorder`;
  out.textContent = `${p.name} · ${money(p.price)} each · ${p.availableToPromise} available now` +
    (short > 0 ? ` · ${policy}` : "");
}

export async function placeOrder(event) {
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
  fill(out, el("h3", {}, `Order ${done.order.number} placed`),
    el("ul", {}, done.order.lines.map((l) => el("li", {}, `${l.sku}: ${l.allocatedQuantity} of ${l.quantity} from stock`))),
    done.backorders.length ? el("ul", {}, done.backorders.map((b) => el("li", { "data-testid": "placed-backorder" },
      `${b.sku}: ${b.backorderedQuantity} backordered, position ${b.queuePosition || "—"}, ETA ${etaText(b.eta)}`))) : null,
    button("Open the customer", () => go("customer", input.customer.email)));
  out.hidden = false;
  out.focus();
  form.reset();
  fill($("order-lines"));
  addLine();
  announce(`Order ${done.order.number} placed.`);
}
