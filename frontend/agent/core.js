// The agent console's shared parts: the page's state, GraphQL over HTTP, formatting (format.js), errors beside their
// fields and the confirmation dialog every action goes through.

import { el, fill } from "../dom.js";
import { formatters } from "../format.js";
import { graphqlClient } from "../graphql.js";
import { signedOut } from "./session.js";

export const $ = (id) => document.getElementById(id);
export const VIEWS = ["find", "queue", "customer", "new-order", "numbers", "settings", "tokens"];
export const state = { viewer: null, view: null, find: null, queueSku: null, socket: null, retry: 0, customer: null };

// -- GraphQL over HTTP (graphql.js) ------------------------------------------------------------
export const gql = graphqlClient({
  offline: () => "The desk cannot be reached. Check the connection and try again.",
  onError: (code) => { if (code === "UNAUTHENTICATED") signedOut("Your session has ended: sign in again."); },
});

// -- small helpers -----------------------------------------------------------------------------
export const SVG = "http://www.w3.org/2000/svg";
export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// dates, times and money (format.js, shared with the portal) in the browser's language and zone
export const { formatDate, formatDateTime, money } = formatters({ locale: () => navigator.language || "en" });

export const words = (code) => (code || "").toLowerCase().replace(/_/g, " ");
export const statusChip = (status) => el("span", { class: `status s-${status.toLowerCase()}`, "data-testid": "status" }, words(status));
export const etaText = (eta) => eta ? `${formatDate(eta.date)} (${words(eta.confidence)})` : "—";

export function announce(text) {
  const live = $("live");
  live.textContent = "";
  setTimeout(() => { live.textContent = text; }, 30);
}

export function button(label, onclick, attrs = {}) {
  return el("button", { type: "button", class: "small", onclick, ...attrs }, label);
}

// -- errors beside the field they name ---------------------------------------------------------
export function clearErrors(scope) {
  for (const node of scope.querySelectorAll("[data-error-for]")) node.textContent = "";
  for (const node of scope.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
}

// userErrors name a field of the input ("reason", "lines.quantity" with line 1, "customer.email"): the
// message goes to the element listing that name (most specific first), else to the form's general one
export function showErrors(scope, errors) {
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
export function confirmAction({ title, what, fields = [], confirm = "Confirm", danger = false, run }) {
  const dialog = $("confirm");
  const form = $("confirm-form");
  $("confirm-title").textContent = title;
  $("confirm-what").textContent = what || "";
  const ok = $("confirm-ok");
  ok.textContent = confirm;
  ok.className = danger ? "danger" : "";
  ok.disabled = false;
  const box = $("confirm-fields");
  fill(box, ...fields.map((f, i) => {
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

// -- SKU fields: products offered by SKU or name as the agent types (the shared datalist #product-options) --------
// offerProducts(text, extra, variables) fills the list and resolves to the query's data (`extra`: more fields to read
// with it, given $sku), or to null when a newer text was asked for meanwhile
let productsAsked = "";
export async function offerProducts(text, extra = "", variables = {}) {
  productsAsked = text;
  const data = await gql(`query OfferProducts($search: String!${extra ? `, $sku: String!` : ""}) {
    products(search: $search, first: 8) { nodes { sku name availableToPromise } } ${extra} }`, { search: text, ...variables });
  if (productsAsked !== text) return null;  // typed on meanwhile: a newer answer is coming
  fill($("product-options"), data.products.nodes.map((p) => el("option", { value: p.sku },
    `${p.name} · ${p.availableToPromise} available`)));
  return data;
}

export function suggestProducts(input) {
  let timer = null;
  input.setAttribute("list", "product-options");
  input.addEventListener("input", () => {
    clearTimeout(timer);
    const text = input.value.trim();
    if (text) timer = setTimeout(() => offerProducts(text).catch(() => {}), 200);
  });
}

