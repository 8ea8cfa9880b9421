// The portal's preferences: how and when the customer is told, in which language.

import { el } from "../dom.js";
import { clearErrors, fieldError, fieldOf } from "./actions.js";
import { $, applyLanguage, errorWords, gql, state, t } from "./core.js";
import { consentOptions, renderOrders, show } from "./orders.js";

// -- preferences -------------------------------------------------------------------------------
export function languageName(code) {
  // each language named in itself, so a customer who cannot read this page still finds their own
  try {
    const name = new Intl.DisplayNames([code], { type: "language" }).of(code) || code;
    return name.charAt(0).toLocaleUpperCase(code) + name.slice(1);
  } catch (err) {
    return code;
  }
}

export function showPreferences() {
  if (!state.account) return;  // signed in for one order: there is no account to show
  const p = state.account.preferences;
  const form = $("preferences-form");
  clearErrors(form, $("preferences-error"));
  form.byEmail.checked = p.byEmail;
  form.bySms.checked = p.bySms;
  showSmsStopped(p);
  form.phone.value = p.phone || "";
  form.quietHoursStart.value = p.quietHoursStart ? p.quietHoursStart.slice(0, 5) : "";
  form.quietHoursEnd.value = p.quietHoursEnd ? p.quietHoursEnd.slice(0, 5) : "";
  form.timezone.value = p.timezone;
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  $("timezones").replaceChildren(...zones.map((z) => el("option", { value: z })));
  form.language.replaceChildren(...state.languages.map((code) => el("option",
    { value: code, lang: code, selected: code === p.language }, languageName(code))));
  form.cancelIfNotBy.value = p.cancelIfNotBy || "";
  form.substitutes.replaceChildren(...consentOptions(p.substitutes));
  $("preferences-result").textContent = "";
  show("preferences");
  $("preferences-title").focus();
}

export function showSmsStopped(p) {
  // the phone said STOP: only a START from it turns texts back on, not this form
  const note = $("sms-stopped");
  note.hidden = !p.smsStopped;
  note.textContent = p.smsStopped ? t("prefs.smsStopped") : "";
}

export async function savePreferences(event) {
  event.preventDefault();
  const form = event.target;
  const input = {
    byEmail: form.byEmail.checked, bySms: form.bySms.checked, phone: form.phone.value.trim() || null,
    quietHoursStart: form.quietHoursStart.value || null, quietHoursEnd: form.quietHoursEnd.value || null,
    timezone: form.timezone.value.trim(), language: form.language.value,
    cancelIfNotBy: form.cancelIfNotBy.value || null, substitutes: form.substitutes.value,
  };
  const result = $("preferences-result");
  const errors = $("preferences-error");
  clearErrors(form, errors);
  result.textContent = "";
  try {
    const data = await gql(`mutation($input: UpdateNotificationPreferencesInput!) {
      updateNotificationPreferences(input: $input) {
        preferences { byEmail bySms smsStopped phone quietHoursStart quietHoursEnd timezone language
          cancelIfNotBy substitutes }
        userErrors { field message code } } }`, { input });
    const payload = data.updateNotificationPreferences;
    if (payload.userErrors.length) {
      errors.textContent = payload.userErrors.map((e) => preferenceErrorWords(form, e)).join(" ");
      for (const e of payload.userErrors) fieldError(fieldOf(form, e.field), errors, errors.textContent);
      const first = form.querySelector("[aria-invalid=true]");
      if (first) first.focus();
      return;
    }
    const languageChanged = payload.preferences.language !== state.account.preferences.language;
    state.account.preferences = payload.preferences;
    if (languageChanged) {
      await applyLanguage();
      renderOrders();
    }
    showSmsStopped(payload.preferences);
    result.textContent = t("prefs.saved");
  } catch (err) {
    errors.textContent = err.message;
  }
}

export function preferenceErrorWords(form, e) {
  // the fields' own rules, in the customer's language; anything else as the server words it
  const name = (fieldOf(form, e.field) || {}).name;
  if (name === "phone") return t(form.phone.value.trim() ? "prefs.invalid.phone" : "prefs.invalid.phoneMissing");
  if (name === "quietHoursStart" || name === "quietHoursEnd") return t("prefs.invalid.quietHours");
  if (name === "timezone") return t("prefs.invalid.timezone");
  if (name === "cancelIfNotBy") return t("choices.invalidDate");
  return errorWords(e.code, e.message);
}
