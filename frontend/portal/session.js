// The portal's signing in (a link by email, or an order number) and out.

import { clearErrors, fieldError, fieldOf } from "./actions.js";
import { $, errorWords, gql, state, t } from "./core.js";
import { load, show, showError } from "./orders.js";

// -- signing in and out ------------------------------------------------------------------------
export async function requestLink(event) {
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

export async function sendLink(email, out, onError = (message) => { out.textContent = message; }) {
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

export async function signInWithOrder(event) {
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

export async function redeem(token) {
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

export async function signOut() {
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

export function linkToken() {
  // sign-in links carry the token after '#', which browsers never send: it stays out of every server's
  // logs; '?token=' is still read for links sent before
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  return fromHash || new URLSearchParams(location.search).get("token");
}
