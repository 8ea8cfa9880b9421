// The portal's live updates over graphql-transport-ws.

import { subscribe } from "../graphql.js";
import { announce, refresh, replaceBackorder } from "./actions.js";
import { $, formatDate, state, statusWords, t } from "./core.js";
import { UPDATES } from "./documents.js";
import { load } from "./orders.js";

// -- live updates (graphql-transport-ws) -------------------------------------------------------
export function connectLive() {
  if (state.socket) return;
  state.socket = subscribe({
    id: "updates",
    query: UPDATES,
    onAck: () => { state.retry = 0; setOffline(false); },
    onNext: (data) => onUpdate(data.backorderUpdates),
    // the server ended the updates (the session is over, say): the socket is dropped; see where we stand
    onEnd: () => { state.socket = null; load(); },
    onClose: () => {
      state.socket = null;
      if (document.visibilityState === "hidden" && state.retry > 3) return;
      setOffline(true);
      const delay = Math.min(30000, 1000 * 2 ** state.retry++);
      setTimeout(() => { connectLive(); if (!state.offline) refresh(); }, delay);
    },
  });
}

export function setOffline(offline) {
  const wasOffline = state.offline;
  state.offline = offline;
  const banner = $("connection");
  if (offline) {
    banner.textContent = t("live.paused");
    banner.hidden = false;
  } else if (wasOffline) {
    banner.hidden = true;
    refresh();
  }
  document.body.dataset.live = offline ? "off" : "on";
}

export function onUpdate(update) {
  if (!update.backorder) return;
  const before = findBackorder(update.backorder.id);
  state.changes = state.changes || {};
  // a note is kept as a function: it is worded again if the customer switches language
  let note = null;
  if (update.kind === "ETA_CHANGED" && update.newEtaDate) {
    const { oldEtaDate, newEtaDate } = update;
    note = oldEtaDate
      ? () => t("live.etaMoved", { from: formatDate(oldEtaDate), to: formatDate(newEtaDate) })
      : () => t("live.eta", { date: formatDate(newEtaDate) });
  } else if (update.kind === "STATUS_CHANGED") {
    note = (b) => t("live.status", { status: statusWords(b.status) });
  } else if (update.kind === "ALLOCATED") {
    note = (b) => t("live.allocated", { count: b.allocatedQuantity, quantity: b.quantity });
  }
  if (note) state.changes[update.backorder.id] = note;
  if (before) {
    replaceBackorder(update.backorder);
    if (note) announce(note(update.backorder));
    const after = update.backorder;
    if (after.cancelledQuantity !== before.cancelledQuantity || after.substitutedQuantity !== before.substitutedQuantity) {
      refresh();  // units left the order: its totals changed
    }
  } else {
    refresh();
  }
}

export function findBackorder(id) {
  for (const order of state.orders) {
    for (const line of order.lines) if (line.backorder && line.backorder.id === id) return line.backorder;
  }
  return null;
}
