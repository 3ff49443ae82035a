// Test data for the municipality's, coordinator's and evaluator's browser
// tests, put in the way the real system gets it: offers and outcomes through
// the services' APIs (via henvis-web, with a logged-in person's session and
// CSRF token), police incidents through henvisctl to the broker (socialsog's
// only way in). Not a spec: run.mjs only runs *.spec.mjs.

import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const rand = (n) => String(Math.floor(Math.random() * 10 ** n)).padStart(n, "0");
export const journal = () => `4100-${rand(5)}-${rand(5)}-26`;

/** A valid CPR number (dates only: henvis checks the birth date, not modulus 11) born in `year` (1900–2036). */
export function cpr(year) {
  const dd = String(1 + Math.floor(Math.random() * 28)).padStart(2, "0");
  const mm = String(1 + Math.floor(Math.random() * 12)).padStart(2, "0");
  const yy = String(year % 100).padStart(2, "0");
  const seventh = year >= 2000 ? "4" : "1";
  return `${dd}${mm}${yy}-${seventh}${rand(3)}`;
}

/** YYYY-MM-DD `days` days from now in Copenhagen. */
export function day(days = 0) {
  const d = new Date(Date.now() + days * 86_400_000);
  const p = Object.fromEntries(new Intl.DateTimeFormat("en-CA", { timeZone: "Europe/Copenhagen", year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(d).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day}`;
}

/** A JSON call to henvis-web's /api from inside `page` (its session, its CSRF token). */
export async function api(t, page, method, path, body, headers = {}) {
  if (!page.__csrf) page.__csrf = JSON.parse((await t.fetch(page, "/auth/session")).body).csrfToken;
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (method !== "GET") init.headers["X-CSRF-Token"] = page.__csrf;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const r = await t.fetch(page, path, init);
  let json = null;
  try {
    json = JSON.parse(r.body);
  } catch {
    // CSV or empty
  }
  return { status: r.status, body: r.body, json };
}

/** The officer's yes for a person living in `kommunekode`; returns the person and the journal number. */
export async function offerYes(t, officer, kommunekode, name) {
  const person = { cpr: cpr(1985), name, phone: "22334455" };
  const now = Date.now();
  const body = {
    offerId: crypto.randomUUID(),
    journalNumber: journal(),
    offence: "OFFENCE_DRUNK",
    chargedAt: new Date(now - 3_600_000).toISOString(),
    officerId: "MVJ-4711",
    answer: "ANSWER_YES",
    kommunekode,
    person,
    consent: { textVersion: "rusmiddel-samtykke-v1", givenAt: new Date(now - 3_000_000).toISOString() },
  };
  const r = await api(t, officer, "POST", "/api/intake/v1/offers", body);
  t.expect(r.status === 200 || r.status === 201, `POST /api/intake/v1/offers answered ${r.status}: ${r.body}`);
  return { ...person, journalNumber: body.journalNumber };
}

/** Every referral `page`'s person sees (router lists the centre's own or the coordinator's district's). */
export async function referrals(t, page, status) {
  const out = [];
  let cursor = "";
  for (let i = 0; i < 50; i++) {
    const q = new URLSearchParams({ limit: "500", ...(status ? { status } : {}), ...(cursor ? { cursor } : {}) });
    const r = await api(t, page, "GET", `/api/router/v1/referrals?${q}`);
    t.expect(r.status === 200, `GET /api/router/v1/referrals answered ${r.status}`);
    out.push(...(r.json.referrals ?? []));
    cursor = r.json.nextCursor ?? "";
    if (!cursor) break;
  }
  return out;
}

/**
 * Police incidents onto police.incidents.v1 with henvisctl (scripts/browser-test
 * exports HENVIS_BUILD_DIR and HENVIS_BOOTSTRAP_FILE for this).
 */
export function importIncidents(t, incidents) {
  const build = process.env.HENVIS_BUILD_DIR;
  const bootstrap = process.env.HENVIS_BOOTSTRAP_FILE;
  t.expect(build && bootstrap, "HENVIS_BUILD_DIR and HENVIS_BOOTSTRAP_FILE are not set (run through scripts/browser-test)");
  const dir = mkdtempSync(join(tmpdir(), "henvis-incidents-"));
  try {
    const file = join(dir, "incidents.jsonl");
    writeFileSync(file, incidents.map((i) => JSON.stringify(i)).join("\n") + "\n");
    execFileSync(join(build, "tools", "henvisctl", "henvisctl"), ["incidents", "import", file, "--bootstrap-file", bootstrap], { stdio: "pipe" });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One incident in the proto3 JSON of henvis.v1.Incident: an adult with one child, both living in `home`. */
export function incident({ district, location, code, daysAgo, adult, child }) {
  const offence = code.startsWith("PH-G-");
  return {
    incidentId: `web-${crypto.randomUUID()}`,
    journalNumber: journal(),
    districtId: district,
    occurredAt: new Date(Date.now() - daysAgo * 86_400_000).toISOString(),
    locationKommunekode: location,
    ...(offence ? { offenceCodes: [code] } : { incidentCodes: [code] }),
    involved: [
      {
        role: "PERSON_ROLE_SUSPECT",
        cpr: adult.cpr,
        name: adult.name,
        homeKommunekode: adult.home,
        children: [{ cpr: child.cpr, name: child.name, homeKommunekode: child.home }],
      },
    ],
  };
}
