// The page is an API client like any other: every call carries X-Auth-Token (when signed
// in) and sees exactly what the API shows that identity.

const TOKEN_KEY = "netqos.token";

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
  config: null,      // /ui/config.json: how to sign in
  whoami: null,      // /v2.0/netqos/whoami
};

function headers(extra = {}) {
  const out = { Accept: "application/json", ...extra };
  if (session.token) out["X-Auth-Token"] = session.token;
  return out;
}

export async function api(method, path, body) {
  const init = { method, headers: headers(body ? { "Content-Type": "application/json" } : {}) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const res = await send(method, path, init);
  if (res.status === 204) return null;
  const doc = await res.json().catch(() => ({}));
  if (!res.ok) {
    const e = doc.NeutronError || {};
    if (res.status === 401) window.dispatchEvent(new CustomEvent("netqos:unauthenticated"));
    throw new ApiError(res.status, e.message || doc.detail || `${method} ${path}: ${res.status}`);
  }
  return doc;
}

export const get = (path) => api("GET", path);

// A read that fails in the network (Chromium aborts requests in flight when a host's
// addresses change: ERR_NETWORK_CHANGED) is tried again; a write never is.
async function send(method, path, init, tries = 3) {
  for (let i = 1; ; i++) {
    try {
      return await fetch(path, init);
    } catch (err) {
      if (method !== "GET" || i >= tries) throw err;
      await new Promise((r) => setTimeout(r, 200 * i));
    }
  }
}

export async function loadConfig() {
  session.config = await (await fetch("config.json")).json();
  return session.config;
}

// Keystone mode's hook: the server's config names where user+password are exchanged for a
// token ({"user", "password", "project"} -> {"token"}); whatever way a token is obtained,
// it is stored and sent as X-Auth-Token like a token typed in.
export async function passwordSignIn(user, password, project) {
  const url = session.config && session.config.password_url;
  if (!url) throw new Error("This server has no password sign-in; paste a token instead.");
  const res = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user, password, project }) });
  const doc = await res.json().catch(() => ({}));
  if (!res.ok || !doc.token) throw new Error((doc.NeutronError || {}).message || "sign-in failed");
  return signIn(doc.token);
}

export async function signIn(token) {
  session.token = token;
  try {
    session.whoami = (await get("/v2.0/netqos/whoami")).whoami;
  } catch (err) {
    session.token = null;
    throw err;
  }
  return session.whoami;
}

export function signOut() { session.token = null; session.whoami = null; }

// One server-sent-events stream per page, read with fetch (EventSource cannot send
// X-Auth-Token). Reconnects after a drop; `close()` ends it.
export function stream(path, onEvent) {
  const ctrl = new AbortController();
  let closed = false;
  async function run() {
    while (!closed) {
      try {
        const res = await fetch(path, { headers: headers({ Accept: "text/event-stream" }),
          signal: ctrl.signal });
        if (!res.ok) throw new ApiError(res.status, `stream: ${res.status}`);
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            dispatch(buffer.slice(0, cut), onEvent);
            buffer = buffer.slice(cut + 2);
          }
        }
      } catch (err) {
        if (closed) return;
        if (err.status === 401 || err.status === 404) return;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  run();
  return { close() { closed = true; ctrl.abort(); } };
}

function dispatch(block, onEvent) {
  let event = "message", data = "";
  for (const line of block.split("\n")) {
    if (line.startsWith("event: ")) event = line.slice(7);
    else if (line.startsWith("data: ")) data += line.slice(6);
  }
  if (data) onEvent(event, JSON.parse(data));
}
