// Sign-in: a token (tokens mode, or one obtained elsewhere, e.g. `openstack token issue`),
// or user+password where the server offers a password exchange (keystone mode's hook).

import { passwordSignIn, session, signIn } from "./api.js";
import { h, show } from "./dom.js";

export function signInPage(route) {
  const error = h("p", { class: "error", hidden: true, role: "alert" });
  const fail = (err) => { error.hidden = false; error.textContent = err.message; };
  const done = () => { if (location.hash !== "#/") location.hash = "#/"; else route(); };
  const token = h("input", { id: "token", type: "password", autocomplete: "off" });
  const tokenForm = h("form", { class: "signin", id: "token-form", onsubmit: (ev) => {
    ev.preventDefault();
    signIn(token.value.trim()).then(done, (err) => fail(
      err.status === 401 ? new Error("This token is not valid.") : err));
  } }, h("h1", {}, "Sign in"), h("label", {}, "Token (X-Auth-Token)", token),
  h("button", { type: "submit" }, "Sign in"));
  const forms = [tokenForm];
  if (session.config.sign_in === "password") {
    const user = h("input", { id: "user" }), password = h("input", { id: "password", type: "password" });
    const project = h("input", { id: "project" });
    forms.unshift(h("form", { class: "signin", id: "password-form", onsubmit: (ev) => {
      ev.preventDefault();
      passwordSignIn(user.value, password.value, project.value).then(done, fail);
    } }, h("h1", {}, "Sign in"), h("label", {}, "User", user),
    h("label", {}, "Password", password), h("label", {}, "Project", project),
    h("button", { type: "submit" }, "Sign in")));
  }
  show(...forms, error);
}
