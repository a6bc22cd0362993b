// Compare: 2-5 runs overlaid on the same axes, their figures side by side and the diff of
// their configurations (from the server's compare endpoint where it exists; otherwise the
// recorded parameters are diffed here).

import { capabilities, get } from "../api.js";
import { LineChart, color } from "../charts.js";
import { duration, el, num, pct, shortId, statusBadge } from "../format.js";

const MAX_RUNS = 5;

export async function mount(main, { query }) {
  const ids = (query.get("ids") || "").split(",").map((s) => s.trim()).filter(Boolean);
  const picker = el("form", { class: "filters", onsubmit: (e) => {
    e.preventDefault();
    window.location.hash = `#/compare?ids=${e.target.ids.value.split(/[\s,]+/).filter(Boolean).map(encodeURIComponent).join(",")}`;
  } }, el("label", {}, "Operation ids", el("input", { name: "ids", size: 60, value: ids.join(", ") })), el("button", {}, "Compare"));
  main.append(el("h1", {}, "Compare runs"), picker);
  if (ids.length < 2 || ids.length > MAX_RUNS) {
    main.append(el("p", { class: "hint" }, `Pick 2 to ${MAX_RUNS} operations: tick them in the Operations list, or paste their ids above.`));
    return null;
  }

  const caps = await capabilities();
  const [runs, curves, server] = await Promise.all([
    Promise.all(ids.map((id) => get(`/operations/${encodeURIComponent(id)}`).then((r) => r.data))),
    Promise.all(ids.map((id) => get(`/operations/${encodeURIComponent(id)}/curves?max_points=1000`).then((r) => r.data))),
    caps.hasPath("/operations/compare")
      ? get(`/operations/compare?${ids.map((id) => `ids=${encodeURIComponent(id)}`).join("&")}`).then((r) => r.data)
      : Promise.resolve(null),
  ]);

  const label = (i) => `${shortId(ids[i])} ${runs[i].metadata.parameters?.strategy_name || ""}`;
  const boxes = ["batch-loss", "epoch-val-loss", "epoch-val-accuracy", "epoch-train-loss"].map((n) => el("div", { class: "chart", id: `compare-${n}` }));
  main.append(el("div", { class: "charts" }, boxes));
  const series = ids.map((_, i) => ({ label: label(i), color: color(i) }));
  const charts = [
    [boxes[0], "Loss per batch", "batch", (c) => [c.batches.loss.x, c.batches.loss.y]],
    [boxes[1], "Validation loss per epoch", "epoch", (c) => [c.epochs.epochs.map((e) => e.epoch), c.epochs.epochs.map((e) => e.val_loss)]],
    [boxes[2], "Validation accuracy per epoch", "epoch", (c) => [c.epochs.epochs.map((e) => e.epoch), c.epochs.epochs.map((e) => e.val_accuracy)]],
    [boxes[3], "Training loss per epoch", "epoch", (c) => [c.epochs.epochs.map((e) => e.epoch), c.epochs.epochs.map((e) => e.train_loss)]],
  ].map(([box, title, xLabel, pick]) => {
    const chart = new LineChart(box, { title, xLabel, series });
    chart.setSeries(curves.map(pick));
    return chart;
  });

  main.append(el("h2", {}, "Figures"), metricsTable(ids, runs, curves));
  const diffRows = server ? server.config_diff : localDiff(runs.map((r) => ({ parameters: r.metadata.parameters, symbol: r.metadata.symbol, timeframe: r.metadata.timeframe })));
  main.append(el("h2", {}, "Configuration differences"), diffTable(ids, diffRows));
  return () => charts.forEach((c) => c.destroy());
}

function metricsTable(ids, runs, curves) {
  const rows = [
    ["Status", (i) => statusBadge(runs[i].status)],
    ["Strategy", (i) => runs[i].metadata.parameters?.strategy_name || "–"],
    ["Epochs", (i) => curves[i].epochs.epochs.length],
    ["Best epoch", (i) => curves[i].epochs.best_epoch ?? "–"],
    ["Best val loss", (i) => num(curves[i].epochs.best_val_loss)],
    ["Best val accuracy", (i) => pct(curves[i].epochs.best_val_accuracy)],
    ["Final train loss", (i) => num(curves[i].epochs.epochs.at(-1)?.train_loss)],
    ["Test accuracy", (i) => pct(runs[i].result_summary?.test_metrics?.test_accuracy ?? runs[i].result_summary?.test_metrics?.accuracy)],
    ["Duration", (i) => duration(runs[i].duration_seconds)],
  ];
  return el("table", { class: "grid", id: "compare-metrics" },
    el("tr", {}, el("th", {}, ""), ids.map((id, i) => el("th", { style: `border-bottom:3px solid ${color(i)}` },
      el("a", { href: `#/operations/${encodeURIComponent(id)}`, title: id }, shortId(id))))),
    rows.map(([name, value]) => el("tr", {}, el("th", {}, name), ids.map((_, i) => el("td", {}, value(i))))));
}

function diffTable(ids, rows) {
  if (!rows.length) return el("p", { id: "config-diff", class: "ok" }, "The configurations are identical.");
  const show = (v) => (v === undefined ? "—" : typeof v === "string" ? v : JSON.stringify(v));
  return el("table", { class: "grid", id: "config-diff" },
    el("tr", {}, el("th", {}, "setting"), ids.map((id) => el("th", {}, shortId(id)))),
    rows.map((d) => el("tr", { "data-path": d.path }, el("td", {}, d.path), d.values.map((v) => el("td", { class: "diff" }, el("pre", {}, show(v)))))));
}

// The settings that differ, as dotted paths, when the server cannot compare for us.
function localDiff(configs) {
  const flat = configs.map((c) => flatten(c));
  const paths = [...new Set(flat.flatMap((f) => Object.keys(f)))].sort();
  return paths
    .filter((p) => new Set(flat.map((f) => JSON.stringify(f[p]))).size > 1)
    .map((p) => ({ path: p, values: flat.map((f) => f[p]) }));
}

function flatten(value, prefix = "", out = {}) {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) {
    out[prefix] = value;
  }
  return out;
}
