// The logged-in person (GET /auth/session, POST /auth/login, /auth/logout) and
// the login form, both as the /login page and over a page whose session expired.

import { ApiError, onSessionExpired, send, setCsrfToken } from "./api";
import { alertBox, clear, h } from "./dom";
import { textField } from "./form";

export type Role = "officer" | "centre" | "municipality" | "coordinator" | "evaluator" | "admin";

export interface User {
  username: string;
  displayName: string;
  role: Role;
  scope: string;
}

interface SessionBody {
  user: { username: string; displayName?: string; role: string; scope?: string };
  csrfToken: string;
}

export const ROLE_LABEL: Record<Role, string> = {
  officer: "Betjent",
  centre: "Rusmiddelcenter",
  municipality: "Kommune",
  coordinator: "Koordinator",
  evaluator: "Evaluator",
  admin: "Administrator",
};

let current: User | null = null;

/** "ROLE_OFFICER" or "officer" → "officer". */
export function normaliseRole(r: string): Role {
  return r.replace(/^ROLE_/i, "").toLowerCase() as Role;
}

function adopt(body: SessionBody): User {
  setCsrfToken(body.csrfToken);
  current = {
    username: body.user.username,
    displayName: body.user.displayName || body.user.username,
    role: normaliseRole(body.user.role),
    scope: body.user.scope ?? "",
  };
  return current;
}

export function currentUser(): User | null {
  return current;
}

/** The session from the cookie, or null (401). Network errors throw. */
export async function loadSession(): Promise<User | null> {
  const res = await send("/auth/session");
  // Read every body: chromium keeps an unread response open (and the page never idle).
  if (!res.ok) {
    await res.text().catch(() => "");
    if (res.status === 401) return (current = null);
    throw new ApiError("server", res.status);
  }
  return adopt((await res.json()) as SessionBody);
}

export async function login(username: string, password: string): Promise<User> {
  const res = await send("/auth/login", { method: "POST", body: { username, password } });
  if (!res.ok) {
    await res.text().catch(() => "");
    const retry = Number(res.headers.get("Retry-After") ?? "");
    const kind = res.status === 429 ? "rate-limited" : res.status === 401 ? "session" : res.status === 400 ? "invalid" : "server";
    throw new ApiError(kind, res.status, {}, Number.isFinite(retry) && retry > 0 ? retry : undefined);
  }
  return adopt((await res.json()) as SessionBody);
}

export async function logout(): Promise<void> {
  try {
    await (await send("/auth/logout", { method: "POST" })).text();
  } finally {
    current = null;
    setCsrfToken("");
    sessionStorage.clear();
  }
}

function loginMessage(e: unknown): string {
  if (e instanceof ApiError && e.kind === "session") return "Forkert brugernavn eller adgangskode.";
  if (e instanceof ApiError && e.kind === "rate-limited")
    return `For mange mislykkede forsøg. Vent ${e.retryAfterSeconds ? `${Math.ceil(e.retryAfterSeconds / 60)} minut(ter)` : "lidt"} og prøv igen.`;
  if (e instanceof ApiError && e.kind === "network") return "Ingen forbindelse til henvis. Prøv igen, når nettet er tilbage.";
  if (e instanceof ApiError && e.kind === "invalid") return "Skriv brugernavn og adgangskode.";
  return "Login lykkedes ikke. Prøv igen om lidt.";
}

/** The login form; `done` gets the user once logged in. */
export function loginForm(heading: string, intro: string, done: (u: User) => void, username = ""): HTMLElement {
  const status = h("div", { "aria-live": "assertive" });
  const form = h("form", { class: "login-form", novalidate: true },
    status,
    textField({ name: "username", label: "Brugernavn", required: true, value: username, attrs: { autocomplete: "username", autocapitalize: "none", spellcheck: "false" } }),
    textField({ name: "password", label: "Adgangskode", type: "password", required: true, attrs: { autocomplete: "current-password" } }),
    h("button", { type: "submit", class: "button button-primary" }, "Log ind"),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    clear(status);
    try {
      done(await login(String(data.get("username") ?? "").trim(), String(data.get("password") ?? "")));
    } catch (e) {
      status.append(alertBox("error", "Du blev ikke logget ind", loginMessage(e)));
      (form.querySelector("input[name=password]") as HTMLInputElement).value = "";
    }
  });
  return h("section", { class: "login" }, h("h1", { tabindex: "-1" }, heading), h("p", {}, intro), form);
}

// When a call answers 401, the page is hidden (not removed: what was typed
// stays in its fields and in sessionStorage), the login shows in its place,
// and the call is repeated after a successful login.
let pending: Promise<void> | null = null;
onSessionExpired(() => {
  if (pending) return pending;
  pending = new Promise<void>((resolve) => {
    const shell = document.getElementById("shell");
    const host = document.getElementById("reauth");
    if (!shell || !host) {
      location.assign("/login");
      return;
    }
    const before = current?.username ?? "";
    shell.hidden = true;
    host.append(h("main", { class: "container page-main" },
      loginForm("Din session er udløbet", "Log ind igen for at fortsætte. Det du har skrevet er gemt.", (u) => {
        clear(host);
        if (before && u.username !== before) {
          // Someone else: what the first user typed (drafts keyed by
          // referral or notice) is not theirs to see.
          sessionStorage.clear();
          location.assign("/");
          return;
        }
        shell.hidden = false;
        pending = null;
        resolve();
      }, before)),
    );
    host.querySelector<HTMLElement>("h1")?.focus();
  });
  return pending;
});
