// The console's shell: hash routing, the nav and the API token field.

import { token } from "./api.js";
import * as operations from "./pages/operations.js";
import * as operation from "./pages/operation.js";
import * as compare from "./pages/compare.js";
import * as models from "./pages/models.js";
import * as runners from "./pages/runners.js";

const routes = [
  [/^#?\/?$/, operations, "operations"],
  [/^#\/operations\/([^/?]+)/, operation, "operations"],
  [/^#\/compare/, compare, "compare"],
  [/^#\/models/, models, "models"],
  [/^#\/runners/, runners, "runners"],
];

let unmount = null;

function query(hash) {
  const at = hash.indexOf("?");
  return new URLSearchParams(at >= 0 ? hash.slice(at + 1) : "");
}

async function route() {
  const hash = window.location.hash || "#/";
  if (unmount) unmount();
  unmount = null;
  const main = document.getElementById("page");
  main.replaceChildren();
  delete main.dataset.live;
  const [pattern, page, nav] = routes.find(([p]) => p.test(hash)) || routes[0];
  const match = hash.match(pattern);
  for (const link of document.querySelectorAll("[data-nav]")) {
    link.classList.toggle("active", link.dataset.nav === nav);
  }
  try {
    unmount = (await page.mount(main, { id: match && match[1] ? decodeURIComponent(match[1]) : null, query: query(hash) })) || null;
  } catch (error) {
    main.replaceChildren(Object.assign(document.createElement("p"), { className: "error", textContent: String(error.message || error) }));
  }
}

function setUpToken() {
  const input = document.getElementById("token");
  input.value = token.get();
  document.getElementById("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    token.set(input.value.trim());
  });
}

setUpToken();
window.addEventListener("hashchange", route);
route();
