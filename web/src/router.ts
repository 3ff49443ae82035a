// Hash-free routes (history API). The pages are listed in pages/index.ts; a
// page owns its path and everything below it (`/center` and `/center/henvisning/<id>`)
// and opens only for its role.

import { ApiError } from "./api";
import { alertBox, h } from "./dom";
import { renderLayout } from "./layout";
import { pages } from "./pages/index";
import { type Role, type User, currentUser, loadSession, loginForm } from "./session";

export interface PageContext {
  user: User;
  /** Path segments below the page's own path, decoded: /center/henvisning/x → ["henvisning", "x"]. */
  rest: string[];
  query: URLSearchParams;
  navigate(path: string): void;
}

export interface Page {
  /** e.g. "/betjent" */
  path: string;
  role: Role;
  /** Danish, for <title> */
  title: string;
  render(main: HTMLElement, ctx: PageContext): void | Promise<void>;
}

export const START_PAGE: Record<Role, string> = {
  officer: "/betjent",
  centre: "/center",
  municipality: "/kommune",
  coordinator: "/koordinator",
  evaluator: "/evaluering",
  admin: "/admin",
};

const NEXT_KEY = "henvis-next";

export function navigate(path: string, replace = false): void {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  void render();
}

function findPage(path: string): { page: Page; rest: string[] } | null {
  for (const page of pages) {
    if (path === page.path || path.startsWith(`${page.path}/`)) {
      const rest = path.slice(page.path.length).split("/").filter(Boolean).map(decodeURIComponent);
      return { page, rest };
    }
  }
  return null;
}

function message(main: HTMLElement, title: string, heading: string, text: string, user: User): void {
  document.title = `${title} – henvis`;
  main.append(h("h1", {}, heading), h("p", {}, text),
    h("p", {}, h("a", { href: START_PAGE[user.role], "data-link": true }, "Gå til din forside")));
}

async function renderLogin(app: HTMLElement): Promise<void> {
  const main = renderLayout(app, null, "/login");
  document.title = "Log ind – henvis";
  main.append(loginForm("Log ind i henvis", "Log ind med dit personlige brugernavn.", (u) => {
    const next = sessionStorage.getItem(NEXT_KEY);
    sessionStorage.removeItem(NEXT_KEY);
    const target = next && findPage(new URL(next, location.origin).pathname)?.page.role === u.role ? next : START_PAGE[u.role];
    navigate(target, true);
  }));
}

let rendering = 0;
export async function render(): Promise<void> {
  const app = document.getElementById("app")!;
  const n = ++rendering;
  const path = location.pathname.replace(/\/+$/, "") || "/";
  let user = currentUser();
  if (!user) {
    try {
      user = await loadSession();
    } catch (e) {
      app.replaceChildren(alertBox("error", "henvis svarer ikke", "Prøv at genindlæse siden om lidt."));
      if (!(e instanceof ApiError)) throw e;
      return;
    }
  }
  if (n !== rendering) return;
  if (path === "/login") return user ? navigate(START_PAGE[user.role], true) : renderLogin(app);
  if (!user) {
    sessionStorage.setItem(NEXT_KEY, location.pathname + location.search);
    return navigate("/login", true);
  }
  if (path === "/") return navigate(START_PAGE[user.role], true);
  const main = renderLayout(app, user, START_PAGE[user.role]);
  const found = findPage(path);
  if (!found) return message(main, "Ikke fundet", "Siden findes ikke", "Adressen findes ikke i henvis.", user);
  if (found.page.role !== user.role)
    return message(main, "Ingen adgang", "Ingen adgang", "Du har ikke adgang til denne side med din rolle.", user);
  document.title = `${found.page.title} – henvis`;
  await found.page.render(main, { user, rest: found.rest, query: new URLSearchParams(location.search), navigate });
}

/** Same-origin links marked data-link navigate without reloading the app. */
export function start(): void {
  document.addEventListener("click", (ev) => {
    const a = (ev.target as Element | null)?.closest?.("a[data-link]") as HTMLAnchorElement | null;
    if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey) return;
    ev.preventDefault();
    navigate(a.getAttribute("href") ?? "/");
  });
  window.addEventListener("popstate", () => void render());
  void render();
}
