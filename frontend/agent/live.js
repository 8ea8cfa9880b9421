// The console's live updates: one backorderUpdates subscription (graphql-transport-ws, graphql.js) for the view
// on screen. The SKU queue watches its SKU, the numbers watch every change; leaving the view ends it, a dropped
// connection is retried with backoff (and the view re-read, since changes meanwhile were missed).

import { subscribe } from "../graphql.js";
import { $, state } from "./core.js";
import { start } from "./session.js";

const UPDATES = `subscription Live($filter: BackorderUpdatesFilter) {
  backorderUpdates(filter: $filter) { kind message backorderId } }`;

// view: the view it serves (leaving it ends the subscription); filter: backorderUpdates' filter (null: all);
// dot: the id of the "live" badge; onUpdate(update); resync(): re-read the view after a reconnection
export function watch(spec) {
  stopLive();
  const socket = subscribe({
    id: spec.view,
    query: UPDATES,
    variables: { filter: spec.filter },
    onAck: () => {
      state.retry = 0;
      $("connection").hidden = true;
      $(spec.dot).hidden = false;
    },
    onNext: (data) => spec.onUpdate(data.backorderUpdates),
    onEnd: () => { stopLive(); start(); },
    onClose: () => {
      if (state.socket !== socket) return;
      state.socket = null;
      $(spec.dot).hidden = true;
      $("connection").textContent = "Live updates paused: reconnecting…";
      $("connection").hidden = false;
      const delay = Math.min(30000, 1000 * 2 ** state.retry++);
      setTimeout(() => {
        if (state.view === spec.view && state.live === spec && !state.socket) { watch(spec); spec.resync(); }
      }, delay);
    },
  });
  state.socket = socket;
  state.live = spec;
}

export function stopLive() {
  const socket = state.socket;
  state.socket = null;
  if (socket) socket.close();
  if (state.live && $(state.live.dot)) $(state.live.dot).hidden = true;
}

// the view being shown is `view`: a subscription for another one ends
export function leaveLive(view) {
  if (state.live && state.live.view !== view) { stopLive(); state.live = null; }
}
