// Models: every stored model; where the server keeps versions, each name's versions with the
// operation that produced it, its test metrics, the one `predict` serves, promote and download.

import { API, capabilities, get, post } from "../api.js";
import { el, fill, flash, pct, shortId, time } from "../format.js";

export async function mount(main) {
  const caps = await capabilities();
  const versioned = caps.hasPath("/models/{name}/versions");
  main.append(el("h1", {}, "Models"));
  const body = el("div", { id: "models" });
  main.append(body);

  async function load() {
    const models = (await get("/models")).models || [];
    if (!models.length) {
      fill(body, el("p", { class: "hint" }, "No model yet: a completed training stores one."));
      return;
    }
    const names = [...new Set(models.map(strategyOf))];
    if (!versioned) {
      fill(body, plainTable(models));
      return;
    }
    const sections = await Promise.all(names.map(async (name) => {
      const versions = (await get(`/models/${encodeURIComponent(name)}/versions`).catch(() => ({ data: [] }))).data;
      return el("section", { class: "model", "data-model": name }, el("h2", {}, name), versionTable(name, versions));
    }));
    fill(body, ...sections);
  }

  function versionTable(name, versions) {
    return el("table", { class: "grid versions" },
      el("tr", {}, ["Version", "Operation", "Created", "Test accuracy", "Test metrics", "Serving", ""].map((h) => el("th", {}, h))),
      versions.map((v) => el("tr", { "data-version": v.version, class: v.served ? "best" : null },
        el("td", {}, String(v.version)),
        el("td", {}, v.operation_id ? el("a", { href: `#/operations/${encodeURIComponent(v.operation_id)}`, title: v.operation_id }, shortId(v.operation_id)) : "–"),
        el("td", {}, time(v.created_at)),
        el("td", { class: "num" }, pct(v.test_metrics?.test_accuracy ?? v.test_metrics?.accuracy)),
        el("td", { class: "sub" }, metricsText(v.test_metrics)),
        el("td", {}, v.served ? el("span", { class: "tag best" }, v.promoted ? "promoted · served" : "served (newest)") : v.promoted ? el("span", { class: "tag" }, "promoted") : ""),
        el("td", {},
          el("button", { class: "promote", disabled: Boolean(v.promoted), onclick: () => promote(name, v.version) }, "Promote"),
          " ",
          el("a", { class: "button", href: `${API}/models/${encodeURIComponent(name)}/versions/${encodeURIComponent(v.version)}/archive` }, "Download")))));
  }

  async function promote(name, version) {
    try {
      await post(`/models/${encodeURIComponent(name)}/promote`, { version });
      flash(`${name} version ${version} is now served by predict`, "info");
      await load();
    } catch (error) {
      flash(error.status === 401 ? `${error.message} (set it in the API token field above)` : error.message, "error");
    }
  }

  await load();
  return null;
}

function metricsText(metrics) {
  if (!metrics) return "–";
  return Object.entries(metrics).filter(([, v]) => typeof v === "number").slice(0, 4)
    .map(([k, v]) => `${k.replace(/^test_/, "")} ${v.toFixed(3)}`).join(" · ");
}

// A model id is `strategy/SYMBOL_TF_vN`: the strategy is its first part when not recorded.
function strategyOf(model) {
  return model.strategy || String(model.model_id).split("/")[0];
}

function plainTable(models) {
  return el("table", { class: "grid" },
    el("tr", {}, ["Model", "Strategy", "Symbols / timeframes", "Version", "Operation", "Created", "Train accuracy", "Test accuracy"].map((h) => el("th", {}, h))),
    models.map((m) => el("tr", { "data-model-id": m.model_id },
      el("td", {}, m.model_id),
      el("td", {}, strategyOf(m)),
      el("td", {}, `${(m.symbols || []).join(", ") || "–"} · ${(m.timeframes || []).join(", ") || "–"}`),
      el("td", { class: "num" }, m.version ?? "–"),
      el("td", {}, m.operation_id ? el("a", { href: `#/operations/${encodeURIComponent(m.operation_id)}`, title: m.operation_id }, shortId(m.operation_id)) : "–"),
      el("td", {}, time(m.created_at)),
      el("td", { class: "num" }, pct(m.training_accuracy)),
      el("td", { class: "num" }, pct(m.test_accuracy)))));
}
