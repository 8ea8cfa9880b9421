// The agent console's locations and exchange rates: the shop's reference data (locations, upsertLocation,
// retireLocation; exchangeRates, upsertExchangeRate). Each list has one form that adds or, after "Rename"/"Change", edits a row;
// the server's userErrors appear beside the field they name. No event announces a change to these lists, so
// they are read again whenever the view is shown or the browser tab comes back into view.

import { el, fill } from "../dom.js";
import { $, announce, button, clearErrors, confirmAction, formatDate, gql, showErrors, state } from "./core.js";

const SETTINGS_QUERY = `query Settings { locations { code name } exchangeRates { fromCurrency toCurrency rate date } }`;
const LOCATION = `mutation($input: UpsertLocationInput!) { upsertLocation(input: $input) {
  location { code name } userErrors { field message code } } }`;
const RATE = `mutation($input: UpsertExchangeRateInput!) { upsertExchangeRate(input: $input) {
  exchangeRate { fromCurrency toCurrency rate date } userErrors { field message code } } }`;

const RETIRE = `mutation($input: RetireLocationInput!) { retireLocation(input: $input) {
  location { code name } keptForHistory userErrors { field message code } } }`;
const DEFAULT_LOCATION = "MAIN";  // where stock goes when no location is named: the server refuses to retire it

export const settings = { locations: [], rates: [] };

// -- reading -----------------------------------------------------------------------------------
export async function loadSettings() {
  let data;
  try {
    data = await gql(SETTINGS_QUERY);
  } catch (err) {
    for (const id of ["location-list", "rate-list"]) {
      fill($(id).querySelector("tbody"), el("tr", {}, el("td", { colspan: 5, class: "error", role: "alert" }, err.message)));
    }
    return;
  }
  settings.locations = data.locations;
  settings.rates = data.exchangeRates;
  renderLocations();
  renderRates();
}

function renderLocations() {
  fill($("location-list").querySelector("tbody"), ...settings.locations.map((l) => el("tr",
    { "data-testid": "location-row", "data-code": l.code },
    el("th", { scope: "row" }, l.code), el("td", {}, l.name),
    el("td", { class: "row-actions" }, button("Rename", () => editLocation(l), { "aria-label": `Rename ${l.code}` }),
      l.code === DEFAULT_LOCATION ? null : button("Retire", () => retireLocation(l), { "aria-label": `Retire ${l.code}` })))));
  $("locations-empty").hidden = settings.locations.length > 0;
}

function renderRates() {
  fill($("rate-list").querySelector("tbody"), ...settings.rates.map((r) => el("tr",
    { "data-testid": "rate-row", "data-pair": `${r.fromCurrency}-${r.toCurrency}` },
    el("th", { scope: "row" }, r.fromCurrency), el("td", {}, r.toCurrency),
    el("td", { class: "num", "data-testid": "rate" }, `1 ${r.fromCurrency} = ${plain(r.rate)} ${r.toCurrency}`),
    el("td", {}, formatDate(r.date)),
    el("td", { class: "row-actions" }, button("Change", () => editRate(r),
      { "aria-label": `Change ${r.fromCurrency} to ${r.toCurrency}` })))));
  $("rates-empty").hidden = settings.rates.length > 0;
}

// -- locations ---------------------------------------------------------------------------------
function locationMode(location) {
  const form = $("location-form");
  clearErrors(form);
  form.dataset.mode = location ? "edit" : "add";
  form.reset();
  form.code.readOnly = Boolean(location);
  if (location) { form.code.value = location.code; form.name.value = location.name; }
  $("location-form-title").textContent = location ? `Rename location ${location.code}` : "Add a location";
  $("location-save").textContent = location ? "Save name" : "Add location";
  $("location-cancel").hidden = !location;
}

export function editLocation(location) {
  locationMode(location);
  $("location-name").focus();
  $("location-name").select();
}

export function cancelLocation() {
  locationMode(null);
  $("location-code").focus();
}

export async function saveLocation(event) {
  event.preventDefault();
  const form = $("location-form");
  const editing = form.dataset.mode === "edit";
  clearErrors(form);
  const input = { code: form.code.value.trim().toUpperCase(), name: form.name.value.trim() || null };
  if (!input.code) { showErrors(form, [{ field: "code", message: "Code: this is needed (e.g. LEEDS)." }]); return; }
  const known = settings.locations.find((l) => l.code === input.code);
  if (!editing && known) {
    // upsertLocation would rename it: an agent adding a location means a new one
    showErrors(form, [{ field: "code", code: "DUPLICATE",
      message: `There is already a location ${known.code} (${known.name}): use its Rename button to change the name.` }]);
    return;
  }
  const save = $("location-save");
  save.disabled = true;
  try {
    const payload = (await gql(LOCATION, { input })).upsertLocation;
    if (payload.userErrors.length) { showErrors(form, payload.userErrors); return; }
    const saved = payload.location;
    announce(editing ? `Location ${saved.code} is now called ${saved.name}.` : `Location ${saved.code} (${saved.name}) added.`);
    locationMode(null);
    await loadSettings();
    if (editing) focusRow("location-row", "data-code", saved.code);
    else $("location-code").focus();  // ready for the next one
  } catch (err) {
    showErrors(form, [{ field: "", message: err.message }]);
  } finally {
    save.disabled = false;
  }
}

// a location the shop no longer uses, after a confirmation; refused (beside the question) while it holds stock or a
// purchase order is bound for it
export async function retireLocation(location) {
  const done = await confirmAction({
    title: `Retire location ${location.code}`, confirm: "Retire", danger: true,
    what: `${location.code} (${location.name}) will no longer be offered or accepted anywhere a location is chosen. ` +
      "It must be empty, with no purchase order bound for it. If stock was ever kept there it stays on record, " +
      "and adding the same code again brings it back.",
    run: async () => (await gql(RETIRE, { input: { code: location.code } })).retireLocation,
  });
  if (!done || !done.location) return;
  announce(done.keptForHistory
    ? `Location ${location.code} retired (kept on record: stock was kept there).`
    : `Location ${location.code} removed.`);
  await loadSettings();
  $("location-code").focus();
}

// -- exchange rates ----------------------------------------------------------------------------
function rateMode(rate) {
  const form = $("rate-form");
  clearErrors(form);
  form.dataset.mode = rate ? "edit" : "add";
  form.reset();
  form.fromCurrency.readOnly = Boolean(rate);
  form.toCurrency.readOnly = Boolean(rate);
  if (rate) { form.fromCurrency.value = rate.fromCurrency; form.toCurrency.value = rate.toCurrency; form.rate.value = plain(rate.rate); }
  $("rate-form-title").textContent = rate ? `Change the ${rate.fromCurrency} → ${rate.toCurrency} rate` : "Add an exchange rate";
  $("rate-save").textContent = rate ? "Save rate" : "Add rate";
  $("rate-cancel").hidden = !rate;
  form.date.max = today();
  rateHint();
}

export function editRate(rate) {
  rateMode(rate);
  $("rate-rate").focus();
  $("rate-rate").select();
}

export function cancelRate() {
  rateMode(null);
  $("rate-from").focus();
}

// "1,165" is read as 1.165 (a decimal comma); anything else not a plain decimal number is refused here
export function parseRate(text) {
  const plain = text.trim().replace(/^(\d+),(\d+)$/, "$1.$2");
  return /^\d+(\.\d+)?$/.test(plain) ? plain : null;
}

// says what the rate means as it is typed: "1 GBP = 1.165 EUR (1 EUR = 0.8584 GBP)"
export function rateHint() {
  const form = $("rate-form");
  const from = form.fromCurrency.value.trim().toUpperCase();
  const to = form.toCurrency.value.trim().toUpperCase();
  const rate = parseRate(form.rate.value);
  const hint = $("rate-rate-hint");
  if (!from || !to || !rate || Number(rate) === 0) { hint.textContent = "Units of the “to” currency for one of the “from”."; return; }
  const back = new Intl.NumberFormat("en", { maximumSignificantDigits: 6, useGrouping: false }).format(1 / Number(rate));
  hint.textContent = `1 ${from} = ${rate} ${to} (1 ${to} = ${back} ${from})`;
}

export async function saveRate(event) {
  event.preventDefault();
  const form = $("rate-form");
  clearErrors(form);  // what was refused before is no longer the answer
  const input = { fromCurrency: form.fromCurrency.value.trim().toUpperCase(), toCurrency: form.toCurrency.value.trim().toUpperCase(),
    rate: parseRate(form.rate.value), date: form.date.value || null };
  const missing = [];
  if (!input.fromCurrency) missing.push({ field: "fromCurrency", message: "From currency: this is needed (e.g. GBP)." });
  if (!input.toCurrency) missing.push({ field: "toCurrency", message: "To currency: this is needed (e.g. EUR)." });
  if (!form.rate.value.trim()) missing.push({ field: "rate", message: "Rate: this is needed." });
  else if (!input.rate) missing.push({ field: "rate", code: "INVALID_INPUT", message: "Write the rate as a decimal number, e.g. 1.165." });
  if (missing.length) { showErrors(form, missing); return; }

  const before = settings.rates.find((r) => r.fromCurrency === input.fromCurrency && r.toCurrency === input.toCurrency);
  let errors = null;
  const send = async () => {
    const payload = (await gql(RATE, { input })).upsertExchangeRate;
    if (payload.userErrors.length) { errors = payload.userErrors; return {}; }
    return payload;
  };
  let done;
  const save = $("rate-save");
  save.disabled = true;
  try {
    if (before) {
      // one rate per direction: the new one replaces the old for every price compared from now on
      done = await confirmAction({
        title: `Replace the ${input.fromCurrency} → ${input.toCurrency} rate`,
        what: `1 ${input.fromCurrency} = ${plain(before.rate)} ${input.toCurrency} (from ${formatDate(before.date)}) becomes `
          + `1 ${input.fromCurrency} = ${input.rate} ${input.toCurrency} (from ${input.date ? formatDate(input.date) : "today"}). `
          + "Prices in these currencies are compared with the new rate from now on.",
        confirm: "Replace rate", run: send,
      });
    } else {
      done = await send();
    }
  } catch (err) {
    errors = [{ field: "", message: err.message }];
  } finally {
    save.disabled = false;
  }
  if (errors) { showErrors(form, errors); return; }
  if (!done || !done.exchangeRate) return;  // went back from the confirmation
  const r = done.exchangeRate;
  announce(`Rate saved: 1 ${r.fromCurrency} = ${plain(r.rate)} ${r.toCurrency}.`);
  rateMode(null);
  await loadSettings();
  if (before) focusRow("rate-row", "data-pair", `${r.fromCurrency}-${r.toCurrency}`);
  else $("rate-from").focus();
}

// -- helpers -----------------------------------------------------------------------------------
// a rate as the desk keeps it (8 places: "1.16500000") as people write it ("1.165"); the digits are never rounded
export function plain(rate) {
  return String(rate).includes(".") ? String(rate).replace(/0+$/, "").replace(/\.$/, "") : String(rate);
}

function today() {
  const now = new Date();
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}-${String(now.getDate()).padStart(2, "0")}`;
}

function focusRow(testId, attribute, value) {
  const row = [...document.querySelectorAll(`[data-testid=${testId}]`)].find((r) => r.getAttribute(attribute) === value);
  const target = row && row.querySelector("button");
  if (target) target.focus();
}

export function openSettings() {
  locationMode(null);
  rateMode(null);
  const codes = $("currency-codes");
  if (!codes.children.length && Intl.supportedValuesOf) {
    fill(codes, ...Intl.supportedValuesOf("currency").map((c) => el("option", { value: c })));
  }
  return loadSettings();
}

export function wireSettings() {
  $("location-form").addEventListener("submit", saveLocation);
  $("location-cancel").addEventListener("click", cancelLocation);
  $("rate-form").addEventListener("submit", saveRate);
  $("rate-cancel").addEventListener("click", cancelRate);
  for (const id of ["rate-from", "rate-to", "rate-rate"]) $(id).addEventListener("input", rateHint);
  // Escape leaves an edit without saving (the dialog's own Escape is the browser's)
  $("location-form").addEventListener("keydown", (e) => {
    if (e.key === "Escape" && $("location-form").dataset.mode === "edit") { e.preventDefault(); cancelLocation(); }
  });
  $("rate-form").addEventListener("keydown", (e) => {
    if (e.key === "Escape" && $("rate-form").dataset.mode === "edit") { e.preventDefault(); cancelRate(); }
  });
  // another agent may have changed them meanwhile: read them again when the tab comes back into view
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && state.view === "settings" && state.viewer) loadSettings();
  });
}
