// Operation: live progress, batch and epoch curves, epoch table, timeline and actions.
// The history comes from `/curves` (downsampled on the server); the page then follows the
// operation's own event stream from the position it drew, appending points as they come.

import { API, capabilities, eventModel, get, post, stream } from "../api.js";
import { LineChart } from "../charts.js";
import { duration, el, fill, flash, num, pct, progressBar, statusBadge, throttle, time } from "../format.js";

const MAX_POINTS = 2000;

export async function mount(main, { id }) {
  const [caps, model] = await Promise.all([capabilities(), eventModel()]);
  const isActive = (status) => model.active_statuses.includes(status);
  const path = `/operations/${encodeURIComponent(id)}`;
  let info = (await get(path)).data;

  const header = el("div", { class: "op-header" });
  const live = el("div", { class: "live", id: "live" });
  const actions = el("div", { class: "actions" });
  const auditBox = el("div", { id: "audit" });
  const charts = el("div", { class: "charts" });
  const epochTable = el("table", { class: "grid", id: "epochs" });
  const timeline = el("ol", { class: "timeline", id: "timeline" });
  const notes = el("div", { id: "notes" });
  main.append(header, live, actions, auditBox, charts,
    el("h2", {}, "Epochs"), epochTable, notes, el("h2", {}, "Timeline (newest first)"), timeline);

  const boxes = ["batch-loss", "batch-accuracy", "epoch-loss", "epoch-accuracy"].map((name) => el("div", { class: "chart", id: `chart-${name}` }));
  charts.append(...boxes);
  const batchLoss = new LineChart(boxes[0], { title: "Loss per batch", xLabel: "batch", series: [{ label: "loss" }] });
  const batchAcc = new LineChart(boxes[1], { title: "Accuracy per batch", xLabel: "batch", series: [{ label: "accuracy", color: "#16a34a" }] });
  const epochLoss = new LineChart(boxes[2], { title: "Loss per epoch", xLabel: "epoch", series: [{ label: "train" }, { label: "validation", color: "#dc2626" }] });
  const epochAcc = new LineChart(boxes[3], { title: "Accuracy per epoch", xLabel: "epoch", series: [{ label: "train" }, { label: "validation", color: "#dc2626" }] });

  // the batch series as drawn: the server's downsampled history plus live points
  let loss = [[], []];
  let accuracy = [[], []];
  let batchCount = 0;

  function renderHeader() {
    const p = info.metadata.parameters || {};
    fill(header,
      el("h1", {}, p.strategy_name || info.operation_type, " ", statusBadge(info.status)),
      el("div", { class: "sub", id: "op-id" }, info.operation_id),
      el("div", { class: "facts" },
        fact("Symbols", (p.symbols || [info.metadata.symbol]).filter(Boolean).join(", ") || "–"),
        fact("Timeframes", (p.timeframes || [info.metadata.timeframe]).filter(Boolean).join(", ") || "–"),
        fact("Runner", info.runner_id || "–"),
        fact("Pool", info.pool),
        fact("Created", time(info.created_at)),
        fact("Duration", duration(info.duration_seconds)),
        info.retry_of ? fact("Retry of", el("a", { href: `#/operations/${encodeURIComponent(info.retry_of)}` }, info.retry_of)) : null,
        (info.tags || []).length ? fact("Tags", info.tags.join(", ")) : null),
      info.error_message ? el("p", { class: "error" }, info.error_message) : null);
  }

  function renderLive() {
    const c = info.progress.context || {};
    const gpu = c.resource_usage;
    const epochBatch = c.epoch_index
      ? `epoch ${c.epoch_index}/${c.total_epochs} · batch ${c.batch_number}/${c.batch_total_per_epoch}`
      : info.progress.current_step || "–";
    fill(live,
      progressBar(info.progress.percentage),
      el("div", { class: "facts" },
        fact("Phase", info.status === "running" ? c.phase || "running" : info.status),
        fact("Step", el("span", { id: "epoch-batch" }, epochBatch)),
        fact("ETA", info.status === "running" && c.eta_seconds != null ? duration(c.eta_seconds) : "–"),
        gpu ? fact("GPU", Object.entries(gpu).map(([k, v]) => `${k} ${typeof v === "number" ? v.toFixed(1) : v}`).join(" · ")) : null));
  }

  function renderActions() {
    const active = isActive(info.status);
    fill(actions,
      el("button", { id: "cancel", class: "danger", disabled: !active, onclick: cancel }, "Cancel"),
      el("button", { id: "retry", disabled: active, onclick: retry }, "Retry"),
      el("button", { id: "audit-button", onclick: audit }, "Audit"),
      el("a", { class: "button", id: "export", href: `${API}${path}/export`, download: `${info.operation_id}.jsonl` }, "Export JSONL"),
      el("a", { class: "button", href: `#/compare?ids=${encodeURIComponent(info.operation_id)}` }, "Compare…"));
  }

  async function cancel() {
    try {
      const answer = await post(`${path}/cancel`, { reason: "Cancelled from the web console" });
      flash(answer.data.confirmed ? `Operation ${answer.data.status}` : "Cancel requested; waiting for the runner", "info");
    } catch (error) {
      flash(error.status === 401 ? `${error.message} (set it in the API token field above)` : error.message, "error");
    }
  }

  async function retry() {
    try {
      const answer = await post(`${path}/retry`);
      window.location.hash = `#/operations/${encodeURIComponent(answer.data.operation_id)}`;
    } catch (error) {
      flash(error.message, "error");
    }
  }

  async function audit() {
    fill(auditBox, el("p", {}, "Rebuilding from the log…"));
    try {
      const result = (await get(`${path}/audit`)).data;
      fill(auditBox,
        el("h2", {}, "Audit"),
        result.ok
          ? el("p", { class: "ok" }, `Rebuilt from ${result.events_folded} events up to sequence ${result.at_sequence}: identical to what the API serves.`)
          : el("table", { class: "grid" }, el("tr", {}, el("th", {}, "field"), el("th", {}, "rebuilt"), el("th", {}, "served")),
            result.differences.map((d) => el("tr", {}, el("td", {}, d.path), el("td", {}, JSON.stringify(d.rebuilt)), el("td", {}, JSON.stringify(d.served))))));
    } catch (error) {
      fill(auditBox, el("p", { class: "error" }, error.message));
    }
  }

  function renderEpochs(metrics) {
    const best = metrics.best_epoch;
    const rows = metrics.epochs.map((e) => el("tr", { class: e.epoch === best ? "best" : null, "data-epoch": e.epoch },
      el("td", {}, e.epoch, e.epoch === best ? el("span", { class: "tag best" }, "best") : null),
      el("td", { class: "num" }, num(e.train_loss)), el("td", { class: "num" }, pct(e.train_accuracy)),
      el("td", { class: "num" }, num(e.val_loss)), el("td", { class: "num" }, pct(e.val_accuracy)),
      el("td", { class: "num" }, e.learning_rate == null ? "–" : e.learning_rate.toExponential(2)),
      el("td", { class: "num" }, duration(e.duration_seconds))));
    fill(epochTable,
      el("tr", {}, ["Epoch", "Train loss", "Train acc", "Val loss", "Val acc", "LR", "Time"].map((h) => el("th", {}, h))),
      ...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 7, class: "empty" }, "No epoch finished yet."))]));
    const xs = metrics.epochs.map((e) => e.epoch);
    epochLoss.setData([xs, metrics.epochs.map((e) => e.train_loss), metrics.epochs.map((e) => e.val_loss)]);
    epochAcc.setData([xs, metrics.epochs.map((e) => e.train_accuracy), metrics.epochs.map((e) => e.val_accuracy)]);
  }

  function addTimeline(event) {
    const { type, occurred_at: at, seq, ...rest } = event;
    delete rest.operation_id; delete rest.event_id; delete rest.schema_version;
    const detail = rest.message || rest.phase || rest.reason || rest.error_message || rest.runner_id
      || (type === "epoch_completed" ? `epoch ${rest.epoch}/${rest.total_epochs} · val acc ${pct(rest.val_accuracy)}` : "");
    // newest first: the latest event is the one a user watching a run looks for
    timeline.prepend(el("li", { "data-type": type }, el("time", {}, time(at)), el("b", {}, type), " ", String(detail || "")));
  }

  function drawBatches() {
    batchLoss.setData(loss);
    batchAcc.setData(accuracy);
  }

  async function loadCurves() {
    const data = (await get(`${path}/curves?max_points=${MAX_POINTS}`)).data;
    batchCount = data.batches.count;
    loss = [data.batches.loss.x, data.batches.loss.y];
    accuracy = [data.batches.accuracy.x, data.batches.accuracy.y];
    drawBatches();
    renderEpochs(data.epochs);
    fill(timeline);
    data.timeline.forEach(addTimeline);
    return data.last_seq;
  }

  renderHeader(); renderLive(); renderActions();
  const lastSeq = await loadCurves();

  let renderNotes = () => {};
  const refresh = throttle(async () => {
    info = (await get(path)).data;
    renderHeader(); renderLive(); renderActions(); renderNotes();
  }, 500);
  const refreshEpochs = throttle(async () => renderEpochs((await get(`${path}/metrics`)).data.metrics), 500);
  const redrawBatches = throttle(drawBatches, 250);

  const handlers = {
    batch_progress: (event) => {
      for (const [, , l, a] of event.batches) {
        batchCount += 1;
        loss[0].push(batchCount); loss[1].push(l);
        accuracy[0].push(batchCount); accuracy[1].push(a);
      }
      if (loss[0].length > 4 * MAX_POINTS) loadCurves(); // keep the drawing screen-sized
      else redrawBatches();
      refresh();
    },
    epoch_completed: (event) => { addTimeline(event); refreshEpochs(); refresh(); },
  };
  // every other event type the server defines goes to the timeline
  for (const type of model.event_types) {
    handlers[type] ??= (event) => { addTimeline(event); refresh(); };
  }
  const source = isActive(info.status) ? stream(`${path}/stream?after_seq=${lastSeq}`, handlers) : null;
  for (const type of model.terminal_types) {
    // the stream ends after the terminal event; do not let EventSource reconnect for ever
    if (source) source.addEventListener(type, () => source.close());
  }

  if (caps.hasPath("/operations/{operation_id}/notes", "post")) {
    const list = el("ul", { id: "note-list" });
    const input = el("input", { id: "note-text", placeholder: "Add a note", required: true });
    renderNotes = () => fill(list, ...(info.notes || []).map((n) =>
      el("li", {}, n.text, el("span", { class: "sub" }, ` — ${n.by || "?"}, ${time(n.at)}`))));
    renderNotes();
    notes.append(el("h2", {}, "Notes"), list,
      el("form", { onsubmit: async (e) => {
        e.preventDefault();
        try { await post(`${path}/notes`, { text: input.value }); input.value = ""; refresh(); } catch (error) { flash(error.message, "error"); }
      } }, input, el("button", {}, "Add note")));
  }

  return () => {
    if (source) source.close();
    [batchLoss, batchAcc, epochLoss, epochAcc].forEach((c) => c.destroy());
  };
}

function fact(label, value) {
  return el("div", { class: "fact" }, el("span", { class: "label" }, label), el("span", { class: "value" }, value));
}
