// The agent console's API tokens view (admins).

import { el, fill } from "../dom.js";
import { $, announce, button, clearErrors, confirmAction, formatDateTime, gql, showErrors, words } from "./core.js";

// -- tokens (admins) ---------------------------------------------------------------------------
export async function loadTokens() {
  let data;
  try {
    data = await gql(`query { apiTokens { id name role createdAt lastUsedAt } }`);
  } catch (err) {
    fill($("token-list").querySelector("tbody"), el("tr", {}, el("td", { colspan: 5, class: "error" }, err.message)));
    return;
  }
  fill($("token-list").querySelector("tbody"), ...data.apiTokens.map((t) => el("tr", { "data-testid": "token-row", "data-name": t.name },
    el("th", { scope: "row" }, t.name), el("td", {}, words(t.role)), el("td", {}, formatDateTime(t.createdAt)),
    el("td", {}, formatDateTime(t.lastUsedAt)),
    el("td", { class: "row-actions" }, button("Revoke", () => revokeToken(t), { "aria-label": `Revoke ${t.name}`, class: "small danger" })))));
}

export async function createToken(event) {
  event.preventDefault();
  const form = event.target;
  clearErrors(form);
  const input = { name: form.name.value.trim(), role: form.role.value };
  let errors = null;
  const done = await confirmAction({
    title: "Create a token", what: `A new ${words(input.role)} token named "${input.name}". Its secret is shown once.`,
    confirm: "Create",
    run: async () => {
      const payload = (await gql(`mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) {
        apiToken { id name role } secret userErrors { field message code } } }`, { input })).createApiToken;
      if (payload.userErrors.length) { errors = payload.userErrors; return {}; }
      return payload;
    },
  });
  if (errors) { showErrors(form, errors); return; }
  if (!done || !done.secret) return;
  const box = $("token-secret");
  fill(box, el("p", {}, `Token for ${done.apiToken.name}: copy it now, it is not shown again.`),
    el("input", { readonly: true, value: done.secret, "aria-label": "New token's secret", class: "link-box", "data-testid": "secret" }),
    button("Done: hide it", () => { fill(box); box.hidden = true; }));
  box.hidden = false;
  form.reset();
  await loadTokens();
  box.querySelector("input").select();
}

export async function revokeToken(t) {
  const done = await confirmAction({
    title: "Revoke token", what: `Revoke "${t.name}" (${words(t.role)}). Requests and sessions with it are refused from now on.`,
    danger: true, confirm: "Revoke",
    run: async () => (await gql(`mutation($input: RevokeApiTokenInput!) { revokeApiToken(input: $input) {
      revokedId userErrors { field message code } } }`, { input: { id: t.id } })).revokeApiToken,
  });
  if (!done) return;
  announce(`Token ${t.name} revoked.`);
  await loadTokens();
}
