// The coordinator of a police district: unroutable referrals (forward to a
// centre with a note, or close with a reason), underretninger that need the
// coordinator (overdue receipts; those for a municipality without a henvis
// account, to forward and confirm), every underretning of the district with
// its receipt, and Socialsøg scans (run one for a period; past scans and what
// each found). /koordinator/underretning/<id> is the notice page.

import municipalities from "henvis:municipalities";
import { ApiError, allPages, call, describeError } from "../api";
import { alertBox, clear, h, uid } from "../dom";
import { selectField, textArea, textField } from "../form";
import { formatDate, formatDateTime } from "../format";
import type { Page } from "../router";
import {
  ALERT_KIND_LABEL,
  CLOSURE_REASONS,
  type FieldError,
  type InboxAlert,
  type ScanList,
  type ScanView,
  closureErrors,
  forgetIdempotencyKey,
  forwardingErrors,
  idempotencyKey,
  inboxAlerts,
  scanCounts,
  scanKindLabel,
  scanRequest,
  scanWindowText,
  unroutableReasonLabel,
} from "../data/coordinator";
import { type UnderretningView, escalations } from "../data/underretninger";
import { offenceLabel } from "../labels";
import type { Referral as ReferralView, ReferralList } from "../referrals";
import { type ColumnSpec, dataTable, facts } from "../views/table";
import { formatCpr, loadUnderretninger, municipalityName, renderUnderretning, underretningTable } from "../views/underretning";
import { filled, onSubmit } from "../views/submit";

const BASE = "/koordinator";
const UNDERRETNING = `${BASE}/underretning`;

// ---- unroutable referrals -------------------------------------------------

/** Centre ids as the dev directory names them, offered as suggestions (any active centre id is accepted). */
function centreSuggestions(listId: string): HTMLElement {
  return h("datalist", { id: listId }, municipalities.map((m) => h("option", { value: `rusmiddelcenter-${m.kommunekode}` }, `${m.name}`)));
}

type Refresh = (flash: string) => void;

/** Forwarding or closure: validated here as the router does, sent with an Idempotency-Key kept until answered. */
function referralAction(
  r: ReferralView,
  action: "forwarding" | "closure",
  fields: HTMLElement[],
  submitLabel: string,
  check: (v: Record<string, string>) => FieldError[],
  success: (v: Record<string, string>) => string,
  refresh: Refresh,
): HTMLElement {
  const id = r.referralId;
  const form = h("form", { novalidate: true, "data-testid": `${action}-${id}` }, fields, h("button", { type: "submit", class: "button button-primary" }, submitLabel));
  onSubmit(form, {
    draftKey: `referral-${action}-${id}`,
    check,
    send: (v) => call("router", `/v1/referrals/${encodeURIComponent(id)}/${action}`, { method: "POST", body: filled(v), idempotencyKey: idempotencyKey(sessionStorage, action, id) }),
    done: (v) => {
      forgetIdempotencyKey(sessionStorage, action, id);
      refresh(success(v));
    },
    // A definite answer ends the key's life; a lost or refused-for-now request keeps it for the retry.
    failed: (e) => {
      if (e instanceof ApiError && !e.retryable) forgetIdempotencyKey(sessionStorage, action, id);
    },
  });
  return form;
}

function details(summary: string, content: HTMLElement): HTMLElement {
  return h(
    "details",
    { class: "details" },
    h("summary", { class: "details-summary" }, h("span", { class: "details-summary-text" }, summary)),
    h("div", { class: "details-text" }, content),
  );
}

function referralCard(r: ReferralView, refresh: Refresh): HTMLElement {
  const listId = uid("centre-list");
  const forward = referralAction(
    r,
    "forwarding",
    [
      textField({ name: "centreId", label: "Rusmiddelcenter", required: true, hint: "Centrets id, fx rusmiddelcenter-657 (Herning). Vælg fra listen eller skriv det.", attrs: { list: listId, autocomplete: "off" } }),
      centreSuggestions(listId),
      textArea({ name: "note", label: "Begrundelse", required: true, hint: "Kommer i henvisningens historik. Højst 500 tegn.", attrs: { maxlength: "500" } }),
    ],
    "Send til centret",
    (v) => forwardingErrors(v.centreId ?? "", v.note ?? ""),
    (v) => `Henvisningen ${r.referralId} er sendt til ${v.centreId ?? ""}.`,
    refresh,
  );
  const close = referralAction(
    r,
    "closure",
    [
      selectField({ name: "reason", label: "Årsag", required: true, options: [["", "Vælg årsag"], ...CLOSURE_REASONS.map((c): [string, string] => [c.value, c.label])] }),
      textArea({ name: "note", label: "Note", hint: "Skal udfyldes ved \"Anden årsag\". Højst 500 tegn.", attrs: { maxlength: "500" } }),
    ],
    "Luk henvisningen",
    (v) => closureErrors(v.reason ?? "", v.note ?? ""),
    () => `Henvisningen ${r.referralId} er lukket.`,
    refresh,
  );
  return h(
    "section",
    { class: "referral-card", "data-testid": `unroutable-${r.referralId}` },
    h("h3", {}, `${r.person?.name || "Uden navn"}, sigtet ${formatDate(r.chargedAt)}`),
    facts([
      ["Henvisning", r.referralId],
      ["Årsag", unroutableReasonLabel(r.reason)],
      ["Bopælskommune", r.kommunekode ? (r.municipalityName ? `${r.municipalityName} (${r.kommunekode})` : municipalityName(r.kommunekode)) : "Ikke angivet"],
      ["CPR-nummer", formatCpr(r.person?.cpr)],
      ["Telefon", r.person?.phone ?? ""],
      ["Journalnummer", r.journalNumber ?? ""],
      ["Overtrædelse", offenceLabel(r.offence)],
      ["Modtaget", formatDateTime(r.createdAt)],
    ]),
    details("Send til et rusmiddelcenter", forward),
    details("Luk henvisningen", close),
  );
}

async function unroutableSection(host: HTMLElement, flash = ""): Promise<void> {
  clear(host);
  host.append(h("h2", { id: "uden-center" }, "Henvisninger uden center"));
  if (flash) host.append(alertBox("success", flash));
  host.append(h("p", {}, "Personer, der har sagt ja, men hvis kommune ikke er med i ordningen. Send henvisningen til et center, eller luk den med en årsag."));
  try {
    const list = await allPages<ReferralList, ReferralView>("router", "/v1/referrals", (p) => p.referrals, { status: "unroutable" });
    const refresh: Refresh = (msg) => void unroutableSection(host, msg).then(() => host.querySelector<HTMLElement>(".alert-success")?.focus());
    host.append(list.length ? h("div", { "data-testid": "unroutable" }, list.map((r) => referralCard(r, refresh))) : h("p", { "data-testid": "unroutable" }, "Ingen henvisninger venter."));
  } catch (e) {
    host.append(alertBox("error", "Henvisningerne kunne ikke hentes", describeError(e)));
  }
  host.querySelector(".alert-success")?.setAttribute("tabindex", "-1");
}

// ---- underretninger ---------------------------------------------------------

async function underretningSection(host: HTMLElement): Promise<void> {
  clear(host);
  host.append(h("h2", { id: "underretninger" }, "Underretninger, der kræver handling"));
  let list: UnderretningView[];
  try {
    list = await loadUnderretninger();
  } catch (e) {
    host.append(alertBox("error", "Underretningerne kunne ikke hentes", describeError(e)));
    return;
  }
  host.append(
    h("p", {}, "Underretninger, hvor kommunen ikke har kvitteret inden fristen, og underretninger til kommuner uden adgang til henvis, som du skal sende videre og kvittere for."),
    underretningTable(escalations(list), UNDERRETNING, "Overskredne frister og underretninger til videresendelse", "escalations"),
    h("h2", {}, "Alle underretninger i politikredsen"),
    underretningTable(list, UNDERRETNING, "Politikredsens underretninger: dem der venter på kvittering først", "district-underretninger"),
  );
}

// ---- escalations and missed receipts from the inbox ---------------------------

function alertSubject(a: InboxAlert): HTMLElement | string {
  if (a.underretning?.underretningId) {
    const id = a.underretning.underretningId;
    return h("span", {}, "Underretning ", h("a", { href: `${UNDERRETNING}/${encodeURIComponent(id)}`, "data-link": true }, id), ` til ${municipalityName(a.underretning.kommunekode)}`);
  }
  const r = a.referral ?? {};
  return [r.person?.name, r.journalNumber, r.centreId].filter(Boolean).join(", ");
}

async function inboxSection(host: HTMLElement): Promise<void> {
  clear(host);
  host.append(h("h2", { id: "eskaleringer" }, "Eskaleringer og udeblevne kvitteringer"));
  let alerts: InboxAlert[];
  try {
    alerts = inboxAlerts(await allPages<{ entries?: InboxAlert[]; nextCursor?: string }, InboxAlert>("notifier", "/v1/inbox", (p) => p.entries));
  } catch (e) {
    host.append(alertBox("error", "Indbakken kunne ikke hentes", describeError(e)));
    return;
  }
  const cols: ColumnSpec<InboxAlert>[] = [
    { header: "Modtaget", rowHeader: true, cell: (a) => formatDateTime(a.deliveredAt) },
    { header: "Hvad", cell: (a) => ALERT_KIND_LABEL[a.kind ?? ""] ?? "" },
    { header: "Om", cell: (a) => alertSubject(a) },
    {
      header: "Handling",
      cell: (a) => {
        const b = h("button", { type: "button", class: "button button-secondary" }, "Markér som behandlet");
        b.addEventListener("click", async () => {
          b.disabled = true;
          try {
            await call("notifier", `/v1/inbox/${encodeURIComponent(a.notificationId)}/ack`, { method: "POST" });
            await inboxSection(host);
          } catch (e) {
            b.disabled = false;
            b.after(alertBox("error", "Det lykkedes ikke", describeError(e)));
          }
        });
        return b;
      },
    },
  ];
  host.append(
    h("p", {}, "Henvisninger, hvor centret ikke har registreret noget i for lang tid, og underretninger, hvor kommunens frist for kvittering er overskredet."),
    dataTable(cols, alerts, { caption: "Eskaleringer i din indbakke, ældste først", empty: "Ingen eskaleringer.", testid: "inbox-alerts" }),
  );
}

// ---- Socialsøg scans --------------------------------------------------------

function scanColumns(): ColumnSpec<ScanView>[] {
  const counts: ColumnSpec<ScanView>[] = scanCounts({}).map((c, i) => ({
    header: c.label,
    numeric: true,
    cell: (s: ScanView) => String(scanCounts(s)[i]!.value),
  }));
  return [
    { header: "Startet", rowHeader: true, cell: (s) => formatDateTime(s.startedAt) },
    { header: "Kørsel", cell: (s) => `${scanKindLabel(s.kind)}${s.requestedBy && s.requestedBy !== "schedule" ? ` af ${s.requestedBy}` : ""}` },
    { header: "Periode", cell: (s) => scanWindowText(s, formatDate) },
    ...counts,
    { header: "Kodeliste", cell: (s) => s.rulesVersion ?? "" },
    {
      header: "Underretninger",
      cell: (s) => (s.underretningIds ?? []).flatMap((id, i) => [i ? ", " : "", h("a", { href: `${UNDERRETNING}/${encodeURIComponent(id)}`, "data-link": true }, id)]),
    },
  ];
}

function scanResult(s: ScanView): HTMLElement {
  const c = scanCounts(s);
  return alertBox("success", "Socialsøg er kørt", [
    h("p", {}, scanWindowText(s, formatDate), ". Kodeliste ", s.rulesVersion ?? "", "."),
    h("ul", { "data-testid": "scan-result" }, c.map((x) => h("li", {}, `${x.label}: ${x.value}`))),
  ]);
}

function scanForm(onStart: () => void, onDone: (s: ScanView) => void): HTMLElement {
  const form = h(
    "form",
    { novalidate: true, "data-testid": "scan-form" },
    h("p", {}, "Vælg en periode for at gennemgå de hændelser, der skete i den (også dem, der allerede er gennemgået). Uden datoer gennemgås de hændelser, der er modtaget siden sidste ugentlige kørsel. Ingen underretning sendes to gange."),
    h("div", { class: "date-range" },
      textField({ name: "from", label: "Fra og med", type: "date" }),
      textField({ name: "to", label: "Til og med", type: "date" })),
    h("button", { type: "submit", class: "button button-primary" }, "Kør Socialsøg"),
  );
  onSubmit(form, {
    draftKey: "scan",
    check: (v) => {
      const req = scanRequest(v.from ?? "", v.to ?? "");
      return "errors" in req ? req.errors : [];
    },
    started: onStart,
    busyLabel: "Kører …",
    send: (v) => {
      const req = scanRequest(v.from ?? "", v.to ?? "");
      return call<ScanView>("socialsog", "/v1/scans", { method: "POST", body: "body" in req ? req.body : {} });
    },
    done: (_v, scan) => onDone(scan as ScanView),
  });
  return form;
}

async function scanList(host: HTMLElement): Promise<void> {
  clear(host);
  const shown: ScanView[] = [];
  const table = h("div", {});
  const more = h("button", { type: "button", class: "button button-secondary", hidden: true }, "Vis ældre kørsler");
  let cursor: string | undefined;
  const load = async (): Promise<void> => {
    try {
      const page = await call<ScanList>("socialsog", "/v1/scans", { query: { limit: 20, cursor } });
      shown.push(...(page.scans ?? []));
      cursor = page.nextCursor || undefined;
      table.replaceChildren(dataTable(scanColumns(), shown, { caption: "Tidligere kørsler, nyeste først", empty: "Socialsøg er ikke kørt endnu.", layout: "scroll", testid: "scans" }));
      more.hidden = !cursor;
    } catch (e) {
      table.replaceChildren(alertBox("error", "Kørslerne kunne ikke hentes", describeError(e)));
    }
  };
  more.addEventListener("click", () => void load());
  host.append(table, more);
  await load();
}

function scanSection(host: HTMLElement, onScan: () => void): Promise<void> {
  clear(host);
  const result = h("div", { "aria-live": "polite" });
  const past = h("div", {});
  host.append(
    h("h2", { id: "socialsog" }, "Socialsøg"),
    scanForm(() => result.replaceChildren(), (s) => {
      result.replaceChildren(scanResult(s));
      void scanList(past);
      onScan();
    }),
    result,
    h("h3", {}, "Tidligere kørsler"),
    past,
  );
  return scanList(past);
}

// ---- the page ---------------------------------------------------------------

async function renderOverview(main: HTMLElement): Promise<void> {
  const unroutable = h("div", { class: "page-section" });
  const underretninger = h("div", { class: "page-section" });
  const inbox = h("div", { class: "page-section" });
  const scans = h("div", { class: "page-section" });
  main.append(
    h("h1", { tabindex: "-1" }, "Koordinator"),
    h("p", {}, "Det, der venter på dig i politikredsen: henvisninger uden center, eskaleringer, underretninger med overskredet frist eller til kommuner uden adgang, og Socialsøg."),
    unroutable,
    inbox,
    underretninger,
    scans,
  );
  await Promise.all([unroutableSection(unroutable), inboxSection(inbox), underretningSection(underretninger), scanSection(scans, () => void underretningSection(underretninger))]);
}

const page: Page = {
  path: BASE,
  role: "coordinator",
  title: "Koordinator",
  async render(main, ctx) {
    const [kind, id] = ctx.rest;
    if (kind === "underretning" && id) return renderUnderretning(main, id, "coordinator", BASE);
    return renderOverview(main);
  },
};
export default page;
