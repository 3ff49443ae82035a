// /center — the rusmiddelcenter's worklist; /center/henvisning/<id> — one
// referral: the person, repeat counts, history and notes, acknowledge, and
// the outcomes the lifecycle allows from its status.

import { allPages, call, describeError } from "../api";
import { alertBox, clear, h } from "../dom";
import { bindForm, checkbox, textArea, textField } from "../form";
import { formatDate, formatDateTime, fromLocalInput, toLocalInput } from "../format";
import { offenceLabel, statusLabel } from "../labels";
import {
  ALLOWED, type Inbox, type InboxEntry, type Referral, type ReferralList, deadline, deadlineText, isOpen, matches, referralsCsv, worklistOrder,
} from "../referrals";
import type { Page, PageContext } from "../router";

const OUTCOME_LABEL: Record<string, string> = {
  REFERRAL_STATUS_CONTACT_ATTEMPTED: "Kontakt forsøgt (intet svar)",
  REFERRAL_STATUS_REACHED: "Kontakt opnået",
  REFERRAL_STATUS_CONVERSATION_HELD: "Samtale holdt",
  REFERRAL_STATUS_FURTHER_SESSIONS_ACCEPTED: "Forløb aftalt",
  REFERRAL_STATUS_DECLINED: "Personen takker nej",
  REFERRAL_STATUS_UNREACHABLE: "Ikke opnåelig",
  REFERRAL_STATUS_CLOSED: "Afslut",
};

/** The unacknowledged NEW_REFERRAL notifications by referral id. */
async function pendingAcks(): Promise<Map<string, InboxEntry>> {
  const entries = await allPages<Inbox, InboxEntry>("notifier", "/v1/inbox", (p) => p.entries);
  const out = new Map<string, InboxEntry>();
  for (const e of entries)
    if (!e.acknowledgedAt && e.referral?.referralId && e.kind === "NOTIFICATION_KIND_NEW_REFERRAL") out.set(e.referral.referralId, e);
  return out;
}

async function acknowledge(entry: InboxEntry): Promise<void> {
  await call("notifier", `/v1/inbox/${encodeURIComponent(entry.notificationId)}/ack`, { method: "POST" });
}

function ackButton(entry: InboxEntry | undefined, host: HTMLElement, label: string): HTMLElement | null {
  if (!entry) return null;
  const b = h("button", { type: "button", class: "button button-secondary button-small" }, "Kvittér");
  b.setAttribute("aria-label", `Kvittér for ${label}`);
  b.addEventListener("click", async () => {
    b.disabled = true;
    try {
      await acknowledge(entry);
      b.replaceWith(h("span", { class: "badge badge-success" }, "Kvitteret"));
    } catch (e) {
      b.disabled = false;
      host.replaceChildren(alertBox("error", "Kvittering lykkedes ikke", describeError(e)));
    }
  });
  return b;
}

/** Fills in the history of open referrals whose clock restarted after creation (the list has none). */
async function withClocks(list: Referral[]): Promise<Referral[]> {
  const need = list.filter((r) => r.status === "REFERRAL_STATUS_CONTACT_ATTEMPTED" || r.status === "REFERRAL_STATUS_REACHED").slice(0, 50);
  const byId = new Map(list.map((r) => [r.referralId, r]));
  for (let i = 0; i < need.length; i += 4)
    await Promise.all(need.slice(i, i + 4).map(async (r) => {
      byId.set(r.referralId, await call<Referral>("router", `/v1/referrals/${encodeURIComponent(r.referralId)}`));
    }));
  return list.map((r) => byId.get(r.referralId)!);
}

function worklistTable(list: Referral[], acks: Map<string, InboxEntry>, status: HTMLElement): HTMLElement {
  const cell = (title: string, ...c: (Node | string)[]) => h("td", { "data-title": title }, ...c);
  const rows = list.map((r) => {
    const d = deadline(r);
    const name = r.person?.name || "(slettet)";
    return h("tr", { class: isOpen(r) ? "row-open" : "row-closed", "data-referral-id": r.referralId },
      cell("Navn", h("a", { href: `/center/henvisning/${encodeURIComponent(r.referralId)}`, "data-link": true }, name)),
      cell("CPR", r.person?.cpr ?? ""),
      cell("Journalnr.", r.journalNumber ?? ""),
      cell("Status", statusLabel(r.status)),
      cell("Modtaget", formatDate(r.createdAt)),
      cell("Frist", d ? `${formatDate(`${d.day}T12:00:00Z`)} · ${deadlineText(d)}` : ""),
      cell("Handling", ackButton(acks.get(r.referralId), status, name) ?? ""));
  });
  return h("div", { class: "table--responsive-scroll" },
    h("table", { class: "table table--compact table--responsive-headers worklist" },
      h("caption", { class: "sr-only" }, "Henvisninger, åbne først efter frist"),
      h("thead", {}, h("tr", {}, ["Navn", "CPR", "Journalnr.", "Status", "Modtaget", "Frist", "Handling"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows)));
}

function downloadCsv(list: Referral[]): void {
  const blob = new Blob([referralsCsv(list, statusLabel, formatDate)], { type: "text/csv;charset=utf-8" });
  const a = h("a", { href: URL.createObjectURL(blob), download: `henvisninger-${new Date().toISOString().slice(0, 10)}.csv` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

async function renderWorklist(main: HTMLElement): Promise<void> {
  const status = h("div", { "aria-live": "polite" });
  const results = h("div", { class: "worklist-results" });
  main.append(h("h1", {}, "Henvisninger"), status);
  let all: Referral[] = [];
  let acks = new Map<string, InboxEntry>();
  try {
    [all, acks] = await Promise.all([
      allPages<ReferralList, Referral>("router", "/v1/referrals", (p) => p.referrals).then(withClocks),
      pendingAcks(),
    ]);
  } catch (e) {
    status.append(alertBox("error", "Henvisningerne kunne ikke hentes", describeError(e)));
    return;
  }
  all.sort(worklistOrder);
  const search = h("input", { class: "form-input", type: "search", id: "worklist-search", name: "q", autocomplete: "off", "aria-describedby": "worklist-search-hint" });
  const openBox = checkbox({ name: "open", label: "Vis kun åbne" });
  const onlyOpen = openBox.querySelector("input")!;
  onlyOpen.checked = true;
  const csv = h("button", { type: "button", class: "button button-secondary" }, "Hent CSV");
  const show = () => {
    const shown = all.filter((r) => (!onlyOpen.checked || isOpen(r)) && matches(r, search.value));
    results.replaceChildren(h("p", { class: "worklist-count", "aria-live": "polite" }, `${shown.length} af ${all.length} henvisninger`),
      shown.length ? worklistTable(shown, acks, status) : h("p", {}, "Ingen henvisninger at vise."));
  };
  search.addEventListener("input", show);
  onlyOpen.addEventListener("change", show);
  csv.addEventListener("click", () => downloadCsv(all.filter((r) => (!onlyOpen.checked || isOpen(r)) && matches(r, search.value))));
  main.append(
    h("div", { class: "worklist-tools" },
      h("div", { class: "form-group" },
        h("label", { class: "form-label", for: "worklist-search" }, "Søg på navn, CPR-nummer eller journalnummer"),
        h("span", { class: "form-hint", id: "worklist-search-hint" }, "Søgningen gælder de henvisninger, der er hentet herunder."),
        search),
      openBox,
      csv),
    results);
  show();
}

function dl(pairs: [string, string | number | undefined | null | Node][]): HTMLElement {
  return h("dl", { class: "facts" }, pairs.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v === undefined || v === null || v === "" ? "–" : v)]));
}

function historyTable(r: Referral): HTMLElement {
  const rows = [...(r.history ?? [])].reverse().map((e) => h("tr", {},
    h("td", { "data-title": "Tidspunkt" }, formatDateTime(e.occurredAt ?? e.at)),
    h("td", { "data-title": "Status" }, statusLabel(e.status)),
    h("td", { "data-title": "Note" }, e.note ?? ""),
    h("td", { "data-title": "Af" }, e.actor ?? "")));
  return h("table", { class: "table table--compact table--responsive-headers history" },
    h("caption", { class: "sr-only" }, "Historik, nyeste først"),
    h("thead", {}, h("tr", {}, ["Tidspunkt", "Status", "Note", "Af"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows));
}

function outcomeForm(r: Referral, rerender: (r: Referral) => void): HTMLElement | null {
  const allowed = ALLOWED[r.status ?? ""] ?? [];
  if (!allowed.length) return null;
  const form = h("form", { class: "outcome-form", novalidate: true },
    textField({ name: "at", label: "Tidspunkt", type: "datetime-local", required: true, value: toLocalInput() }),
    textArea({ name: "note", label: "Note", hint: "Højst 500 tegn. Noten bliver i henvis og slettes, hvis samtykket trækkes tilbage." }),
    h("div", { class: "outcome-buttons" }, allowed.map((o) => h("button", { type: "submit", class: "button button-secondary", name: "outcome", value: o }, OUTCOME_LABEL[o] ?? statusLabel(o)))));
  const bound = bindForm(form, { draftKey: `udfald:${r.referralId}` });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const outcome = ((ev as SubmitEvent).submitter as HTMLButtonElement | null)?.value ?? "";
    if (outcome === "REFERRAL_STATUS_CONTACT_ATTEMPTED" && r.attemptsLeft === 1 &&
        !confirm("Dette er sidste kontaktforsøg: henvisningen bliver derefter markeret som ikke opnåelig. Fortsæt?")) return;
    const v = bound.values();
    const body: Record<string, string> = { outcome, at: fromLocalInput(v.at ?? "") ?? "" };
    if (v.note?.trim()) body.note = v.note.trim();
    // The same key until answered: a retry after a lost answer has the effect of one.
    const keyName = `henvis-idem:${r.referralId}:${JSON.stringify(body)}`;
    const key = sessionStorage.getItem(keyName) ?? crypto.randomUUID();
    sessionStorage.setItem(keyName, key);
    const send = async () => {
      try {
        const after = await call<Referral>("router", `/v1/referrals/${encodeURIComponent(r.referralId)}/outcomes`, { body, idempotencyKey: key });
        sessionStorage.removeItem(keyName);
        bound.clearDraft();
        rerender(after);
      } catch (e) {
        bound.showError(e, () => void send());
      }
    };
    await send();
  });
  return h("section", { class: "outcomes" }, h("h2", {}, "Registrér udfald"), form);
}

function renderReferral(main: HTMLElement, r: Referral, ack: InboxEntry | undefined, notice?: string): void {
  clear(main);
  const status = h("div", { "aria-live": "polite" }, notice ? alertBox("success", notice) : null);
  const p = r.person ?? {};
  const d = deadline(r);
  const notes = (r.history ?? []).filter((e) => e.note);
  main.append(
    h("p", {}, h("a", { href: "/center", "data-link": true, class: "back-link" }, "Tilbage til henvisninger")),
    h("h1", {}, p.name || "Henvisning"),
    status,
    h("p", { class: "referral-status" }, h("strong", {}, statusLabel(r.status)), d ? ` · frist ${formatDate(`${d.day}T12:00:00Z`)} (${deadlineText(d)})` : "",
      " ", ackButton(ack, status, p.name ?? "henvisningen")),
    h("h2", {}, "Personen"),
    dl([["Navn", p.name], ["CPR-nummer", p.cpr], ["Telefon", p.phone], ["E-mail", p.email], ["Foretrukket kontakttid", p.preferredContactTime],
      ["Tidligere henvisninger (90 dage)", r.priorReferrals90d ?? 0], ["Tidligere henvisninger (5 år)", r.priorReferrals5y ?? 0]]),
    h("h2", {}, "Sagen"),
    dl([["Journalnummer", r.journalNumber], ["Overtrædelse", offenceLabel(r.offence)], ["Sigtet", formatDateTime(r.chargedAt)],
      ["Bopælskommune", r.municipalityName], ["Samtykke", r.consent ? `${formatDateTime(r.consent.givenAt)} (${r.consent.textVersion ?? ""})` : ""],
      ["Kontaktforsøg", `${r.contactAttempts ?? 0} (${r.attemptsLeft ?? 0} tilbage)`]]),
    outcomeForm(r, (after) => renderReferral(main, after, undefined, `Registreret: ${statusLabel(after.status)}`)) ?? h("p", {}, "Henvisningen er afsluttet; der kan ikke registreres flere udfald."),
    h("h2", {}, "Noter"),
    notes.length ? h("ul", { class: "notes" }, notes.map((e) => h("li", {}, `${formatDateTime(e.occurredAt ?? e.at)}: `, e.note ?? ""))) : h("p", {}, "Ingen noter."),
    h("h2", {}, "Historik"),
    historyTable(r),
  );
}

async function renderOne(main: HTMLElement, id: string): Promise<void> {
  try {
    const [r, acks] = await Promise.all([call<Referral>("router", `/v1/referrals/${encodeURIComponent(id)}`), pendingAcks()]);
    renderReferral(main, r, acks.get(r.referralId));
  } catch (e) {
    main.append(h("h1", {}, "Henvisning"), alertBox("error", "Henvisningen kunne ikke hentes", describeError(e)),
      h("p", {}, h("a", { href: "/center", "data-link": true }, "Tilbage til henvisninger")));
  }
}

const page: Page = {
  path: "/center",
  role: "centre",
  title: "Henvisninger",
  render(main, ctx: PageContext) {
    if (ctx.rest[0] === "henvisning" && ctx.rest[1]) return renderOne(main, ctx.rest[1]);
    return renderWorklist(main);
  },
};
export default page;
