// The agent console's Numbers view: the KPIs and their charts (inline SVG).

import { el, fill } from "../dom.js";
import { $, formatDateTime, gql, state, svg } from "./core.js";
import { watch } from "./live.js";

// -- numbers -----------------------------------------------------------------------------------
// live: every committed change to any backorder may move a figure; a burst (a receipt touches many) is read once
let reloadTimer = null;
export async function openNumbers() {
  await loadNumbers();
  watch({ view: "numbers", filter: null, dot: "numbers-live", resync: loadNumbers, onUpdate: (update) => {
    $("numbers-note").textContent = `${formatDateTime(new Date().toISOString())}: ${update.message}`;
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(() => { if (state.view === "numbers") loadNumbers(); }, 500);
  } });
}

export async function loadNumbers() {
  let data;
  try {
    data = await gql(`query { kpis { openBackorders unitsWaiting unitsAllocatedNotShipped overdueBackorders
      skusWithBackorders orders ordersWithBackorders fillRate meanWaitDays
      ageBuckets { label minDays maxDays backorders units } } }`);
  } catch (err) {
    fill($("kpi-figures"), el("p", { class: "error" }, err.message));
    return;
  }
  const k = data.kpis;
  const figure = (label, value, id) => el("div", { class: "figure", "data-testid": id },
    el("span", { class: "value" }, value), el("span", { class: "label" }, label));
  fill($("kpi-figures"), 
    figure("open backorders", k.openBackorders, "kpi-open"), figure("units waiting", k.unitsWaiting, "kpi-units"),
    figure("overdue", k.overdueBackorders, "kpi-overdue"),
    figure("fill rate", `${(k.fillRate * 100).toFixed(1)} %`, "kpi-fill"),
    figure("mean wait", k.meanWaitDays === null ? "—" : `${k.meanWaitDays.toFixed(1)} days`, "kpi-wait"),
    figure("allocated, not shipped", k.unitsAllocatedNotShipped, "kpi-allocated"),
    figure("SKUs with backorders", k.skusWithBackorders, "kpi-skus"),
    figure("orders with backorders", `${k.ordersWithBackorders} of ${k.orders}`, "kpi-orders"));
  fill($("kpi-charts"), 
    barChart("Open backorders by age (days waiting)", k.ageBuckets.map((b) => [b.label, b.backorders]), "chart-backorders"),
    barChart("Units waiting by age (days waiting)", k.ageBuckets.map((b) => [b.label, b.units]), "chart-units"),
    shareChart("Fill rate: units allocated at placement", k.fillRate, "chart-fill"),
    shareChart("Overdue share of open backorders", k.openBackorders ? k.overdueBackorders / k.openBackorders : 0, "chart-overdue"));
}

// inline SVG, no library: a labelled bar per bucket, with the figure on the bar for screen readers too
export function barChart(title, rows, id) {
  const width = 420, height = 200, pad = 28, max = Math.max(1, ...rows.map((r) => r[1]));
  const band = (width - pad * 2) / Math.max(1, rows.length);
  const bars = rows.map(([label, value], i) => {
    const h = Math.round((height - pad * 2) * value / max);
    const x = pad + i * band + band * 0.15, y = height - pad - h;
    return svg("g", { "data-testid": "bar" },
      svg("title", {}, `${label}: ${value}`),
      svg("rect", { x, y, width: band * 0.7, height: h, class: "bar" }),
      svg("text", { x: x + band * 0.35, y: y - 4, "text-anchor": "middle", class: "bar-value" }, value),
      svg("text", { x: x + band * 0.35, y: height - pad + 16, "text-anchor": "middle", class: "bar-label" }, label));
  });
  return el("figure", { class: "chart card", "data-testid": id },
    svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${title}: ` + rows.map((r) => `${r[0]} ${r[1]}`).join(", ") },
      svg("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, class: "axis" }), bars),
    el("figcaption", {}, title));
}

export function shareChart(title, share, id) {
  const width = 420, height = 60, filled = Math.max(0, Math.min(1, share)) * (width - 4);
  const percent = `${(share * 100).toFixed(1)} %`;
  return el("figure", { class: "chart card", "data-testid": id },
    svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${title}: ${percent}` },
      svg("rect", { x: 2, y: 4, width: width - 4, height: 24, class: "track" }),
      svg("rect", { x: 2, y: 4, width: filled, height: 24, class: "bar" }),
      svg("text", { x: 2, y: 48, class: "share-value" }, percent)),
    el("figcaption", {}, title));
}
