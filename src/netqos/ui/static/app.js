// The console's shell: sign-in, the identity bar and the hash router (#/host/NAME, …).

import { loadConfig, session, signIn, signOut, get } from "./api.js";
import { h, show, errorBox } from "./dom.js";
import { overview } from "./overview.js";
import { hostPage } from "./host.js";
import { portPage } from "./port.js";
import { policiesPage } from "./policies.js";
import { signInPage } from "./signin.js";

const ROUTES = [
  [/^#\/host\/(.+)$/, (m) => hostPage(decodeURIComponent(m[1]))],
  [/^#\/port\/(.+)$/, (m) => portPage(decodeURIComponent(m[1]))],
  [/^#\/policies$/, () => policiesPage()],
  [/^#\/signin$/, () => signInPage(route)],
  [/^(#\/?)?$/, () => overview()],
];

let current = null;   // the page's cleanup (closes its stream)

export async function route() {
  if (current) { current(); current = null; }
  const hash = location.hash;
  if (!session.whoami && hash !== "#/signin") {
    location.hash = "#/signin";
    return;
  }
  whoBar();
  delete document.body.dataset.route;
  const found = ROUTES.find(([pattern]) => pattern.test(hash));
  if (!found) show(h("p", {}, "No such page. ", h("a", { href: "#/" }, "Overview")));
  else {
    try {
      current = (await found[1](found[0].exec(hash))) || null;
    } catch (err) {
      show(errorBox(err));
    }
  }
  document.body.dataset.route = hash;   // shown (or its error is): for people's tools and tests
}

function whoBar() {
  const who = document.getElementById("who");
  const w = session.whoami;
  if (!w) { who.replaceChildren(); return; }
  who.replaceChildren(
    `project ${w.project_id}${w.user_id ? ` · ${w.user_id}` : ""} · ${w.roles.join(", ")}`,
    session.config.sign_in === "none" ? "" :
      h("button", { id: "signout", onclick: () => { signOut(); location.hash = "#/signin"; } },
        "Sign out"));
}

async function start() {
  await loadConfig();
  window.addEventListener("netqos:unauthenticated", () => {
    signOut();
    if (location.hash !== "#/signin") location.hash = "#/signin";
  });
  try {
    // noauth (loopback): no sign-in; otherwise a token kept from this tab's last sign-in.
    if (session.config.sign_in === "none") session.whoami = (await get("/v2.0/netqos/whoami")).whoami;
    else if (session.token) await signIn(session.token);
  } catch (err) {
    signOut();
  }
  window.addEventListener("hashchange", route);
  route();
}

start();
