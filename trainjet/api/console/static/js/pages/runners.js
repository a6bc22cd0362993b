// Runners: the live runners from their heartbeats. Re-read when an operation changes (which
// is when a runner's current work changes) or on demand; the "ago" column ticks locally.

import { get, stream } from "../api.js";
import { el, fill, shortId, throttle } from "../format.js";

export async function mount(main) {
  const body = el("tbody");
  main.append(el("h1", {}, "Runners"),
    el("div", { class: "filters" }, el("button", { onclick: () => load() }, "Refresh")),
    el("table", { class: "grid", id: "runners" },
      el("thead", {}, el("tr", {}, ["Runner", "Pool", "Host", "Device", "GPU", "Concurrency", "Current operation", "Last heartbeat", "Version"].map((h) => el("th", {}, h)))),
      body));
  let runners = [];

  function ago(iso) {
    if (!iso) return "–";
    const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
    return `${s}s ago`;
  }

  function render() {
    fill(body, ...runners.map((r) => el("tr", { "data-runner": r.runner_id },
      el("td", {}, r.runner_id), el("td", {}, r.pool), el("td", {}, `${r.host} (pid ${r.pid})`), el("td", {}, r.device),
      el("td", {}, r.gpu ? Object.entries(r.gpu).map(([k, v]) => `${k}: ${typeof v === "number" ? v.toFixed(1) : v}`).join(" · ") : "–"),
      el("td", { class: "num" }, r.concurrency),
      el("td", {}, r.current_operations.length ? r.current_operations.map((id) => el("a", { href: `#/operations/${encodeURIComponent(id)}`, title: id }, shortId(id), " ")) : "idle"),
      el("td", { class: "ago", "data-seen": r.last_seen }, ago(r.last_seen)),
      el("td", {}, r.version))));
    if (!runners.length) body.append(el("tr", {}, el("td", { colspan: 9, class: "empty" }, "No live runner.")));
  }

  async function load() {
    runners = (await get("/runners")).data;
    render();
  }

  const reload = throttle(() => load().catch(() => {}), 2000);
  const source = stream("/operations/events-stream", { operations: reload, resync: reload });
  const ticker = setInterval(() => {
    for (const cell of body.querySelectorAll("td.ago")) cell.textContent = ago(cell.dataset.seen);
  }, 1000);
  await load();
  return () => { source.close(); clearInterval(ticker); };
}
