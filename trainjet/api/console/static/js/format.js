// Small formatting helpers shared by the pages.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

export const pct = (v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)}%`);
export const num = (v, digits = 4) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits));
export const time = (iso) => (iso ? new Date(iso).toLocaleString() : "–");
// Operation ids share a long prefix (op_training_20261202_...): the random tail tells them apart.
export function shortId(id) {
  if (!id) return id;
  const tail = id.match(/_([0-9a-f]{6,})$/);
  return tail ? `…${tail[1]}` : id.length > 18 ? `${id.slice(0, 18)}…` : id;
}

// replaceChildren that skips null/false, so optional parts can be written inline.
export function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

export function statusBadge(status) {
  return el("span", { class: `badge status-${status}`, "data-status": status }, status);
}

export function progressBar(percentage) {
  const value = Math.max(0, Math.min(100, percentage || 0));
  return el(
    "div",
    { class: "bar", role: "progressbar", "aria-valuenow": value.toFixed(1), "aria-valuemin": 0, "aria-valuemax": 100 },
    el("div", { class: "fill", style: `width:${value}%` }),
    el("span", {}, `${value.toFixed(1)}%`),
  );
}

export function flash(message, kind = "info") {
  const box = document.getElementById("flash");
  box.className = kind;
  box.textContent = message;
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => {
    box.textContent = "";
    box.className = "";
  }, 6000);
}

// Run `fn` at most once per `ms`, always with the latest call honoured (trailing edge).
export function throttle(fn, ms) {
  let timer = null;
  let pending = false;
  return (...args) => {
    if (timer) {
      pending = true;
      return;
    }
    fn(...args);
    timer = setTimeout(function tick() {
      timer = null;
      if (pending) {
        pending = false;
        fn(...args);
        timer = setTimeout(tick, ms);
      }
    }, ms);
  };
}
