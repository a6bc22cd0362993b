// The one place that talks to the API: same-origin requests, JSON writes, the bearer token.

const TOKEN_KEY = "trainjet.apiToken";
export const API = "/api/v1";

export const token = {
  get: () => localStorage.getItem(TOKEN_KEY) || "",
  set: (value) => (value ? localStorage.setItem(TOKEN_KEY, value) : localStorage.removeItem(TOKEN_KEY)),
};

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function parse(response) {
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const detail = body && (body.detail || (body.error && body.error.message));
    throw new ApiError(response.status, detail || `${response.status} ${response.statusText}`);
  }
  return body;
}

export async function get(path) {
  return parse(await fetch(API + path, { headers: { Accept: "application/json" }, credentials: "same-origin" }));
}

// Writes always send JSON (the API refuses other content types for writes) and the token
// when the user saved one.
export async function post(path, data = {}) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (token.get()) headers.Authorization = `Bearer ${token.get()}`;
  return parse(
    await fetch(API + path, { method: "POST", headers, credentials: "same-origin", body: JSON.stringify(data) }),
  );
}

// The OpenAPI document says what this server offers, so the console shows a filter or a
// page only where the endpoint behind it exists.
let schema = null;
export async function capabilities() {
  if (!schema) {
    schema = fetch("/openapi.json").then((r) => r.json()).catch(() => ({ paths: {} }));
  }
  const doc = await schema;
  return {
    // `{...}` in `path` matches any parameter name the server chose
    hasPath: (path, method = "get") => {
      const wanted = new RegExp(`^${(API + path).replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]*\}/g, "\\{[^}]+\\}")}$`);
      return Object.entries(doc.paths || {}).some(([p, ops]) => wanted.test(p) && ops[method]);
    },
    hasParam: (path, name, method = "get") =>
      (doc.paths?.[API + path]?.[method]?.parameters || []).some((p) => p.name === name),
  };
}

// The event model as the server defines it (event names, terminal set, statuses), fetched
// once: the console keeps no list of its own that could drift from the server's.
let events = null;
export async function eventModel() {
  if (!events) {
    events = get("/events/model").catch((error) => { events = null; throw error; });
  }
  return events;
}

export function stream(path, handlers) {
  const source = new EventSource(API + path);
  for (const [name, handler] of Object.entries(handlers)) {
    source.addEventListener(name, (message) => handler(message.data ? JSON.parse(message.data) : null, message));
  }
  return source;
}
