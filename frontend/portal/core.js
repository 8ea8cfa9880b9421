// The portal's shared parts: the page's state, its words (the catalogues in /i18n/), GraphQL over HTTP in
// the customer's language, and formatting.

import { formatters, times } from "../format.js";
import { graphqlClient } from "../graphql.js";

// the languages the page has catalogues for (frontend/i18n/<code>.json); English is the fallback
export const PAGE_LANGUAGES = ["en", "de", "fr", "es"];

export const $ = (id) => document.getElementById(id);
export const state = {
  orders: [], account: null, orderOnly: false, socket: null, languages: PAGE_LANGUAGES, retry: 0, live: false,
  language: "en", messages: {},
};
export const catalogues = {};

// -- words -------------------------------------------------------------------------------------
export async function loadCatalogue(code) {
  if (!catalogues[code]) {
    const response = await fetch(`/i18n/${code}.json`, { credentials: "same-origin" });
    if (!response.ok) throw new Error(`no catalogue for ${code}`);
    catalogues[code] = await response.json();
  }
  return catalogues[code];
}

export function chosenLanguage() {
  // the customer's preference when signed in with an account, else the browser's first language we speak
  const chosen = state.account && state.account.preferences.language;
  if (chosen && PAGE_LANGUAGES.includes(chosen)) return chosen;
  for (const tag of navigator.languages || [navigator.language || "en"]) {
    const base = String(tag).split("-")[0].toLowerCase();
    if (PAGE_LANGUAGES.includes(base)) return base;
  }
  return "en";
}

export async function applyLanguage(code = chosenLanguage()) {
  try {
    await loadCatalogue("en");
    state.messages = await loadCatalogue(code);
    state.language = code;
  } catch (err) {
    state.messages = catalogues.en || {};
    state.language = "en";
  }
  document.documentElement.lang = state.language;
  document.title = t("title");
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of document.querySelectorAll("[data-i18n-aria-label]")) {
    node.setAttribute("aria-label", t(node.dataset.i18nAriaLabel));
  }
}

export function t(key, params = {}) {
  let text = state.messages[key] ?? (catalogues.en && catalogues.en[key]) ?? key;
  if (typeof text === "object") {
    const category = new Intl.PluralRules(locale()).select(Number(params.count));
    text = text[category] ?? text.other;
  }
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

export function has(key) {
  return key in state.messages || Boolean(catalogues.en && key in catalogues.en);
}

export function errorWords(code, message) {
  // a known code in the customer's language; otherwise the server's own words
  return code && has(`error.${code}`) ? t(`error.${code}`) : message;
}

// -- GraphQL over HTTP (graphql.js): errors in the customer's language --------------------------------
export const gql = graphqlClient({ offline: () => t("error.OFFLINE"), words: errorWords });

// -- formatting --------------------------------------------------------------------------------
export function tz() { return (state.account && state.account.preferences.timezone) || undefined; }
export function locale() {
  // the page's language, in the browser's regional form when it matches (en + en-GB -> en-GB)
  const browser = navigator.language || state.language;
  return browser.split("-")[0] === state.language ? browser : state.language;
}

// dates in full (4 March 2026), times with their zone named in the customer's zone: format.js, shared with the console
export const { formatDate, formatDateTime, money } = formatters({ locale, timeZone: tz, month: "long", zoneName: true });
export { times };

export const TONES = { WAITING: "wait", PARTIALLY_ALLOCATED: "wait", ALLOCATED: "ok", SHIPPED: "ok", IN_STOCK: "ok",
  CANCELLED: "off", SUBSTITUTED: "off" };

export function statusWords(status) { return has(`status.${status}`) ? t(`status.${status}`) : status; }

export function etaWords(eta) {
  const when = formatDate(eta.date);
  switch (eta.source) {
    case "ALLOCATED": return t("eta.ready");
    case "ON_HAND": return t("eta.onHand", { date: when });
    case "PURCHASE_ORDER":
      return eta.confidence === "HIGH" ? t("eta.confirmed", { date: when }) : t("eta.late", { date: when });
    case "RELEASE_DATE": return t("eta.release", { date: when });
    default:
      return eta.confidence === "LOW" ? t("eta.estimatedLate", { date: when }) : t("eta.estimated", { date: when });
  }
}

export function aheadWords(position) {
  if (!position) return "";
  if (position === 1) return t("queue.next");
  return t("queue.ahead", { count: position - 1 });
}
