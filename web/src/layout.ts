// The frame of every page: the dkfds header with the person's name and role,
// the log-out button, and the <main> the page renders into.

import { clear, h } from "./dom";
import { ROLE_LABEL, type User, logout } from "./session";

/** Renders the frame into #app and returns the <main> for the page. */
export function renderLayout(app: HTMLElement, user: User | null, startPage: string): HTMLElement {
  clear(app);
  const main = h("main", { id: "main-content", class: "container page-main", tabindex: "-1" });
  const userBox = user
    ? h("div", { class: "app-user" },
        h("p", { class: "user", "data-testid": "user" },
          h("span", { class: "user-name" }, user.displayName),
          h("span", { class: "user-role" }, ` · ${ROLE_LABEL[user.role] ?? user.role}${user.scope ? ` (${user.scope})` : ""}`)),
        logoutButton())
    : null;
  const header = h("header", { class: "header" },
    h("div", { class: "portal-info" },
      h("div", { class: "container portal-info-inner" },
        h("a", { href: user ? startPage : "/login", class: "app-logo", "data-link": true }, "henvis"),
        userBox)));
  const shell = h("div", { id: "shell" }, header, main);
  app.append(shell, h("div", { id: "reauth" }));
  return main;
}

function logoutButton(): HTMLButtonElement {
  const b = h("button", { type: "button", class: "button button-secondary button-logout" }, "Log af");
  b.addEventListener("click", async () => {
    b.disabled = true;
    try {
      await logout();
    } catch {
      // Logged out locally either way; the server's session ends at its idle timeout.
    }
    location.assign("/login");
  });
  return b;
}
