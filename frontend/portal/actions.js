// The portal's actions (cancel, substitutes, shipping) and their form errors.

import { el } from "../dom.js";
import { $, errorWords, gql, money, state, t, times } from "./core.js";
import { BACKORDER_FIELDS } from "./documents.js";
import { converted, fetchOrders, productName, renderOrders } from "./orders.js";

// -- form errors: said aloud (role=alert) and tied to their field (aria-invalid, aria-describedby) --
export function fieldError(input, out, message) {
  out.textContent = message;
  if (input) {
    input.setAttribute("aria-invalid", "true");
    const described = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    if (!described.includes(out.id)) input.setAttribute("aria-describedby", [...described, out.id].join(" "));
  }
}

export function clearErrors(form, out) {
  out.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

export function fieldOf(form, field) {
  // userErrors name fields as the API does (camelCase) or as the domain does (snake_case)
  if (!field) return null;
  const name = field.replace(/_([a-z])/g, (_, c) => c.toUpperCase()).split(".")[0];
  const input = form.elements[name];
  return input instanceof Element ? input : null;
}

// -- actions -----------------------------------------------------------------------------------
export function askCancel(line, b) {
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

export function askSubstitute(line, b, option, button) {
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

export async function acceptSubstitute(b, option, button) {
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

export async function setShipping(order, shipComplete) {
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

export async function refresh() {
  try {
    const data = await fetchOrders();
    state.orders = data.orders.nodes;
    state.account = data.myAccount || null;
    renderOrders();
  } catch (err) {
    announce(err.message, true);
  }
}

export function replaceBackorder(b) {
  for (const order of state.orders) {
    for (const line of order.lines) {
      if (line.backorder && line.backorder.id === b.id) line.backorder = b;
    }
  }
  renderOrders();
  const box = document.getElementById(`bo-${b.id}`);
  if (box) box.classList.add("changed");
}

export function announce(message, isError = false) {
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
