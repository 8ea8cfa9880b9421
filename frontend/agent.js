// The agent console: talks only to the public GraphQL API at /graphql (HTTP for queries and mutations,
// graphql-transport-ws for the live queue). Signing in exchanges an API token for an HttpOnly session
// cookie (signInWithApiToken); the token is sent once and never kept by the page.
// Each view is a module of agent/ (no build step: the browser loads them as ES modules); this one starts the page.

import { $, VIEWS, state, suggestProducts } from "./agent/core.js";
import { moreMessages } from "./agent/customer.js";
import { find, findPage } from "./agent/find.js";
import { addLine, placeOrder } from "./agent/new-order.js";
import { go, route, signIn, signOut, start } from "./agent/session.js";
import { wireSettings } from "./agent/settings.js";
import { createToken } from "./agent/tokens.js";

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
  wireSettings();
  suggestProducts($("queue-sku"));
  suggestProducts($("find-sku"));
  $("retry").addEventListener("click", start);
  for (const tab of document.querySelectorAll("#nav .tab[data-view]")) {
    tab.addEventListener("click", () => go(tab.dataset.view));
  }
  // keyboard: Alt+1..7 switch views, "/" jumps to the search box
  document.addEventListener("keydown", (event) => {
    if (!state.viewer || $("confirm").open) return;
    if (event.altKey && /^[1-7]$/.test(event.key)) {
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
