// The agent console's screens (which view shows, from the address's '#') and signing in and out.

import { $, VIEWS, clearErrors, gql, showErrors, state } from "./core.js";
import { openCustomer } from "./customer.js";
import { find } from "./find.js";
import { addLine } from "./new-order.js";
import { openNumbers } from "./numbers.js";
import { leaveLive, stopLive } from "./live.js";
import { openQueue } from "./queue.js";
import { openSettings } from "./settings.js";
import { loadTokens } from "./tokens.js";

// -- screens -----------------------------------------------------------------------------------
export function show(id) {
  for (const section of ["loading", "sign-in", "error", ...VIEWS]) $(section).hidden = section !== id;
  const signedIn = VIEWS.includes(id);
  $("nav").hidden = !signedIn;
  for (const tab of document.querySelectorAll("#nav .tab[data-view]")) {
    if (tab.dataset.view === id) tab.setAttribute("aria-current", "page"); else tab.removeAttribute("aria-current");
  }
  if (signedIn) state.view = id;
  leaveLive(id);
}

export function go(view, arg) {
  const hash = arg ? `#${view}/${encodeURIComponent(arg)}` : `#${view}`;
  if (location.hash !== hash) history.pushState(null, "", hash);
  route();
}

export async function route() {
  if (!state.viewer) return;
  const [view, ...rest] = location.hash.slice(1).split("/");
  const arg = rest.length ? decodeURIComponent(rest.join("/")) : "";
  const fallback = location.pathname === "/admin" && state.viewer.role === "admin" ? "tokens" : "find";
  const target = VIEWS.includes(view) && (view !== "tokens" || state.viewer.role === "admin") ? view : fallback;
  show(target);
  const heading = $(`${target}-title`);
  if (target === "queue" && arg) await openQueue(arg);
  else if (target === "customer" && arg) await openCustomer(arg);
  else if (target === "numbers") await openNumbers();
  else if (target === "settings") await openSettings();
  else if (target === "tokens") await loadTokens();
  else if (target === "new-order" && !$("order-lines").children.length) addLine();
  else if (target === "find" && !state.find) find();  // the first visit lists what is waiting
  heading.focus();
}

export function showError(message) {
  $("error-text").textContent = message;
  show("error");
  $("retry").focus();
}

// -- signing in and out ------------------------------------------------------------------------
export async function start() {
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

export function signedIn(viewer) {
  state.viewer = viewer;
  $("who").textContent = `${viewer.name} (${viewer.role})`;
  $("tokens-tab").hidden = viewer.role !== "admin";
  route();
}

export function signedOut(note) {
  state.viewer = null;
  stopLive();
  show("sign-in");
  $("sign-in-note").textContent = note || "";
  $("sign-in-token").focus();
}

export async function signIn(event) {
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

export async function signOut() {
  try { await gql(`mutation { signOut { ok } }`); } catch (err) { /* signed out here anyway */ }
  history.replaceState(null, "", location.pathname);
  signedOut("You are signed out.");
}
