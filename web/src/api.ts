// The one way the pages talk to the services: /api/<service>/<path> on
// henvis-web, with the session cookie (same-origin) and the CSRF token.
//
// - problem+json errors become an ApiError carrying the field errors;
// - a 401 session-expired asks the user to log in again (session.ts shows the
//   login over the page, which keeps what was typed) and then repeats the call;
// - 429 and network failures become an ApiError the page shows with a retry.

export type Service = "intake" | "router" | "socialsog" | "notifier" | "evaluation";

export interface FieldError {
  field: string;
  reason: string;
}

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  errors?: FieldError[];
}

export type ErrorKind = "network" | "rate-limited" | "invalid" | "conflict" | "forbidden" | "not-found" | "session" | "server";

export class ApiError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly status: number,
    readonly problem: Problem = {},
    readonly retryAfterSeconds?: number,
  ) {
    super(problem.detail ?? problem.title ?? kind);
  }
  get fieldErrors(): FieldError[] {
    return this.problem.errors ?? [];
  }
  /** Whether doing the same again later may succeed. */
  get retryable(): boolean {
    return this.kind === "network" || this.kind === "rate-limited" || this.kind === "server";
  }
}

let csrfToken = "";
export function setCsrfToken(t: string): void {
  csrfToken = t;
}

type Reauthenticate = () => Promise<void>;
let reauthenticate: Reauthenticate | null = null;
/** session.ts registers how to get a new session when one expires. */
export function onSessionExpired(f: Reauthenticate): void {
  reauthenticate = f;
}

export interface CallOptions {
  method?: string;
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  idempotencyKey?: string;
  accept?: string;
}

function url(service: Service, path: string, query?: CallOptions["query"]): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== "") q.set(k, String(v));
  const qs = q.toString();
  return `/api/${service}${path.startsWith("/") ? path : `/${path}`}${qs ? `?${qs}` : ""}`;
}

function kindOf(status: number): ErrorKind {
  if (status === 400 || status === 413 || status === 422) return "invalid";
  if (status === 401) return "session";
  if (status === 403) return "forbidden";
  if (status === 404) return "not-found";
  if (status === 409) return "conflict";
  if (status === 429) return "rate-limited";
  return "server";
}

async function problemOf(res: Response): Promise<Problem> {
  try {
    const body = (await res.json()) as Problem;
    return typeof body === "object" && body !== null ? body : {};
  } catch {
    return { status: res.status, title: res.statusText };
  }
}

export async function send(path: string, opts: CallOptions = {}): Promise<Response> {
  const method = opts.method ?? (opts.body === undefined ? "GET" : "POST");
  const headers: Record<string, string> = { Accept: opts.accept ?? "application/json" };
  if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = csrfToken;
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  if (opts.idempotencyKey) headers["Idempotency-Key"] = opts.idempotencyKey;
  try {
    return await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
  } catch {
    throw new ApiError("network", 0, { title: "network error" });
  }
}

/** A raw call with the error handling (used for CSV and other non-JSON answers). */
export async function callRaw(service: Service, path: string, opts: CallOptions = {}, retried = false): Promise<Response> {
  const res = await send(url(service, path, opts.query), opts);
  if (res.ok) return res;
  const problem = await problemOf(res);
  // Only henvis-web's own "no session" asks for the login; another 401 is an error.
  if (res.status === 401 && !retried && reauthenticate && /session-expired/.test(problem.type ?? "")) {
    await reauthenticate();
    return callRaw(service, path, opts, true);
  }
  const retryAfter = Number(res.headers.get("Retry-After") ?? "");
  throw new ApiError(kindOf(res.status), res.status, problem, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined);
}

/** A JSON call: the parsed body, or an ApiError. */
export async function call<T>(service: Service, path: string, opts: CallOptions = {}): Promise<T> {
  const res = await callRaw(service, path, opts);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** Every page of a keyset-paged list (`?limit=&cursor=` → `nextCursor`). */
export async function allPages<P extends { nextCursor?: string }, T>(
  service: Service,
  path: string,
  items: (page: P) => T[] | undefined,
  query: CallOptions["query"] = {},
  maxPages = 20,
): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < maxPages; i++) {
    const page = await call<P>(service, path, { query: { ...query, limit: 500, cursor } });
    out.push(...(items(page) ?? []));
    cursor = page.nextCursor;
    if (!cursor) break;
  }
  return out;
}

/** A Danish sentence for an error that is not about one field. */
export function describeError(e: unknown): string {
  if (!(e instanceof ApiError)) return "Der skete en uventet fejl. Prøv igen.";
  switch (e.kind) {
    case "network":
      return "Ingen forbindelse til henvis. Det du har skrevet er gemt; prøv igen, når nettet er tilbage.";
    case "rate-limited":
      return e.retryAfterSeconds
        ? `For mange forsøg. Vent ${e.retryAfterSeconds} sekunder og prøv igen.`
        : "For mange forsøg. Vent lidt og prøv igen.";
    case "invalid":
      return "Nogle felter er ikke udfyldt korrekt. Se beskederne ved felterne.";
    case "conflict":
      return "Det kunne ikke lade sig gøre, fordi sagen er ændret i mellemtiden. Hent siden igen.";
    case "forbidden":
      return "Du har ikke adgang til dette.";
    case "not-found":
      return "Det findes ikke (eller du har ikke adgang til det).";
    case "session":
      return "Du er ikke logget ind.";
    default:
      return "henvis svarede med en fejl. Prøv igen om lidt.";
  }
}
