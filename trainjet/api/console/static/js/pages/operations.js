// Operations: the live list. The page is read with server-side filter, sort and paging;
// the all-operations event stream then updates rows in place and re-reads the page when an
// operation it does not show (a new one, or one that moved) changed. No polling.

import { capabilities, eventModel, get, stream } from "../api.js";
import { duration, el, fill, pct, progressBar, shortId, statusBadge, throttle, time } from "../format.js";

const PAGE_SIZE = 50;
const TYPES = ["", "training", "dummy"];
const COLUMNS = [
  ["", null],
  ["Operation", "created_at"],
  ["Type", "operation_type"],
  ["Strategy", "strategy"],
  ["Symbols / timeframes", "symbol"],
  ["Status", "status"],
  ["Progress", "progress"],
  ["Best val acc", "best_val_accuracy"],
  ["Duration", "duration"],
  ["Runner", "runner"],
];

// A finished run's last step ("Saving the model") is history, not news: say where it
// stopped only when it did not complete.
function stepText(op) {
  if (op.status === "completed") return "";
  if (op.status === "failed" || op.status === "cancelled") return op.current_step ? `stopped at ${op.current_step}` : "";
  return op.current_step || "";
}

export async function mount(main, { query }) {
  const [caps, model] = await Promise.all([capabilities(), eventModel()]);
  const state = {
    status: query.get("status") || "",
    operation_type: query.get("type") || "",
    strategy: query.get("strategy") || "",
    symbol: query.get("symbol") || "",
    tag: query.get("tag") || "",
    sort: query.get("sort") || "created_at",
    order: query.get("order") || "desc",
    offset: 0,
  };
  const selected = new Set();
  const rows = new Map(); // operation_id -> <tr> on this page

  const select = (name, values) =>
    el("select", { name, onchange: (e) => update({ [name]: e.target.value }) },
      values.map((v) => el("option", { value: v, selected: v === state[name] }, v || "any")));
  const text = (name, label) =>
    caps.hasParam("/operations", name)
      ? el("label", {}, label, el("input", { name, value: state[name], onchange: (e) => update({ [name]: e.target.value.trim() }) }))
      : null;

  const compareButton = el("button", { id: "compare-selected", disabled: true, onclick: () => {
    window.location.hash = `#/compare?ids=${[...selected].map(encodeURIComponent).join(",")}`;
  } }, "Compare selected");
  const filters = el("div", { class: "filters" },
    el("label", {}, "Status", select("status", ["", ...model.statuses])),
    el("label", {}, "Type", select("operation_type", TYPES)),
    text("strategy", "Strategy"), text("symbol", "Symbol"), text("tag", "Tag"),
    compareButton);
  const head = el("tr", {}, COLUMNS.map(([label, key]) => el("th", {
    "data-sort": key,
    class: key ? "sortable" : null,
    onclick: key ? () => update({ sort: key, order: state.sort === key && state.order === "desc" ? "asc" : "desc" }) : null,
  }, label)));
  const body = el("tbody");
  const pager = el("div", { class: "pager" });
  main.append(el("h1", {}, "Operations"), filters, el("table", { class: "grid", id: "operations" }, el("thead", {}, head), body), pager);

  function update(changes) {
    Object.assign(state, changes, "offset" in changes ? {} : { offset: 0 });
    load();
  }

  const newestFirst = () => state.offset === 0 && state.sort === "created_at" && state.order === "desc";

  function matches(op) {
    return (!state.status || op.status === state.status) && (!state.operation_type || op.operation_type === state.operation_type);
  }

  function row(op) {
    const box = el("input", { type: "checkbox", checked: selected.has(op.operation_id), "aria-label": "select for compare",
      onchange: (e) => {
        if (e.target.checked) selected.add(op.operation_id); else selected.delete(op.operation_id);
        compareButton.disabled = selected.size < 2 || selected.size > 5;
      } });
    const symbols = (op.symbols || []).join(", ") || op.symbol || "–";
    return el("tr", { "data-id": op.operation_id, "data-status": op.status },
      el("td", {}, box),
      el("td", {}, el("a", { href: `#/operations/${encodeURIComponent(op.operation_id)}`, title: op.operation_id }, shortId(op.operation_id)),
        el("div", { class: "sub" }, time(op.created_at)),
        (op.tags || []).map((t) => el("span", { class: "tag" }, t))),
      el("td", {}, op.operation_type),
      el("td", {}, op.strategy || "–"),
      el("td", {}, symbols, el("div", { class: "sub" }, (op.timeframes || []).join(", "))),
      el("td", {}, statusBadge(op.status)),
      el("td", {}, progressBar(op.progress_percentage), el("div", { class: "sub" }, stepText(op))),
      el("td", { class: "num" }, pct(op.best_val_accuracy)),
      el("td", { class: "num" }, duration(op.duration_seconds)),
      el("td", {}, op.runner_id || "–"));
  }

  async function load() {
    const params = new URLSearchParams({ limit: PAGE_SIZE, offset: state.offset });
    if (state.sort !== "created_at" || state.order !== "desc") {
      // the server's default order is newest first, without a sort: ask for one only if needed
      params.set("sort", state.sort);
      params.set("order", state.order);
    }
    for (const name of ["status", "operation_type", "strategy", "symbol", "tag"]) {
      if (state[name] && (name === "status" || name === "operation_type" || caps.hasParam("/operations", name))) params.set(name, state[name]);
    }
    const page = await get(`/operations?${params}`);
    rows.clear();
    fill(body, ...page.data.map((op) => {
      const tr = row(op);
      rows.set(op.operation_id, tr);
      return tr;
    }));
    if (!page.data.length) body.append(el("tr", {}, el("td", { colspan: COLUMNS.length, class: "empty" }, "No operations match.")));
    for (const th of head.children) {
      th.classList.toggle("sorted", th.dataset.sort === state.sort);
      th.dataset.order = th.dataset.sort === state.sort ? state.order : "";
    }
    const last = Math.min(state.offset + PAGE_SIZE, page.total_count);
    fill(pager,
      el("button", { disabled: state.offset === 0, onclick: () => update({ offset: Math.max(0, state.offset - PAGE_SIZE) }) }, "‹ Newer"),
      el("span", { id: "page-info" }, page.total_count ? `${state.offset + 1}–${last} of ${page.total_count} · ${page.active_count} active` : "0 operations"),
      el("button", { disabled: last >= page.total_count, onclick: () => update({ offset: state.offset + PAGE_SIZE }) }, "Older ›"));
  }

  const reload = throttle(() => load().catch(() => {}), 700);
  const source = stream("/operations/events-stream", {
    operations: (ops) => {
      for (const op of ops) {
        const tr = rows.get(op.operation_id);
        if (tr && matches(op)) {
          const fresh = row(op);
          tr.replaceWith(fresh);
          rows.set(op.operation_id, fresh);
        } else if (!tr && matches(op) && newestFirst() && !body.querySelector(`tr[data-id="${CSS.escape(op.operation_id)}"]`)) {
          // a new operation on the first page of the default order: show it now, then let
          // the re-read settle counts and paging
          const fresh = row(op);
          body.querySelector("td.empty")?.parentElement.remove();
          body.prepend(fresh);
          rows.set(op.operation_id, fresh);
          reload();
        } else if (tr || matches(op)) {
          reload(); // it joins, leaves or moves on this page
        }
      }
    },
    resync: () => reload(),
    ready: () => { main.dataset.live = "ready"; }, // the stream is open: changes will arrive
  });
  await load();
  return () => source.close();
}
