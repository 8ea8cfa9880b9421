// The customer portal: talks only to the public GraphQL API at /graphql (HTTP for queries and
// mutations, graphql-transport-ws for live updates). The session is an HttpOnly cookie set by the
// redeemPortalLink / signInWithOrder mutations; the page never sees a token. Its words come from the
// catalogues in /i18n/ (one JSON file per language); dates, times, numbers and money from Intl.
// Each part is a module of portal/ (no build step: the browser loads them as ES modules); this one starts the page.

import { $, applyLanguage, state } from "./portal/core.js";
import { connectLive } from "./portal/live.js";
import { load, show } from "./portal/orders.js";
import { savePreferences, showPreferences } from "./portal/preferences.js";
import { linkToken, redeem, requestLink, sendLink, signInWithOrder, signOut } from "./portal/session.js";

// -- start -------------------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", async () => {
  $("link-form").addEventListener("submit", requestLink);
  $("order-form").addEventListener("submit", signInWithOrder);
  $("preferences-form").addEventListener("submit", savePreferences);
  $("sign-out").addEventListener("click", signOut);
  $("show-orders").addEventListener("click", () => { show("orders"); $("orders-title").focus(); });
  $("send-account-link").addEventListener("click", () => sendLink(state.email, $("account-link-result")));
  $("show-preferences").addEventListener("click", showPreferences);
  $("retry").addEventListener("click", load);
  window.addEventListener("online", () => { if (state.offline) connectLive(); });
  // a link opened on the page already showing is only a change of '#': no new page load to read it
  window.addEventListener("hashchange", () => { const token = linkToken(); if (token) redeem(token); });
  await applyLanguage();
  const token = linkToken();
  if (token) redeem(token); else load();
});
