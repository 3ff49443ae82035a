// An underretning as the municipality and the coordinator see it: the list
// table and the notice page (children, adults, incidents, the rule and the
// code-list version that flagged them, receipt, responses, forwarding). The
// actions differ by role: a municipality records its kvittering and
// responses; a coordinator records receipt and forwarding for a municipality
// without a henvis account. socialsog checks every rule again.

import { ApiError, type FieldError, allPages, call, describeError } from "../api";
import { alertBox, clear, h } from "../dom";
import { radioGroup, selectField, textArea, textField } from "../form";
import { copenhagenDay, formatDate, formatDateTime } from "../format";
import municipalities from "henvis:municipalities";
import {
  FORWARDING_CHANNELS,
  RESPONSE_OPTIONS,
  type UnderretningIncident,
  type UnderretningList,
  type UnderretningView,
  categoryLabel,
  channelLabel,
  counts,
  mergePages,
  personRoleLabel,
  reasonLabel,
  receiptClock,
  recordedByLabel,
  responseLabel,
  ruleLabel,
  statusLabel,
  workingDaysText,
} from "../data/underretninger";
import { filled, onSubmit } from "./submit";
import { type ColumnSpec, badge, dataTable, facts } from "./table";

const MUNICIPALITY = new Map(municipalities.map((m) => [m.kommunekode, m.name]));

export function municipalityName(code: number | undefined): string {
  if (!code) return "Ukendt";
  const name = MUNICIPALITY.get(code);
  return name ? `${name} (${code})` : String(code);
}

/** "0101901234" → "010190-1234" (as it is written on paper). */
export function formatCpr(cpr: string | undefined): string {
  const c = cpr ?? "";
  return /^\d{10}$/.test(c) ? `${c.slice(0, 6)}-${c.slice(6)}` : c;
}

/** The status as a badge: awaiting with days left, overdue, received (on time or late), responded. */
export function statusBadge(u: UnderretningView): HTMLElement {
  const clock = receiptClock(u);
  if (clock.kind === "awaiting")
    return badge(clock.overdue ? "Frist overskredet" : workingDaysText(clock.workingDaysLeft), clock.overdue ? "error" : clock.workingDaysLeft <= 2 ? "warning" : "info");
  if (clock.kind === "no-clock") return badge(u.forwarding ? "Videresendt" : "Skal videresendes", u.forwarding ? "success" : "warning");
  const when = clock.onTime === false ? " efter fristen" : clock.onTime ? " til tiden" : "";
  const text = u.status === "responded" ? `Besvaret, kvitteret${when}` : `Kvitteret${when}`;
  return badge(text, clock.onTime === false ? "warning" : "success");
}

function deadline(u: UnderretningView): string {
  const due = u.notice?.receiptDueAt;
  if (!due) return "Ingen frist (sendt til koordinatoren)";
  // receiptDueAt is 00:00 after the last day: the last day is the one before.
  return `senest ${formatDate(new Date(Date.parse(due) - 1))}`;
}

/** Every underretning the person may see (all pages), in the page's order: awaiting a receipt first. */
export async function loadUnderretninger(): Promise<UnderretningView[]> {
  return mergePages([], await allPages<UnderretningList, UnderretningView>("socialsog", "/v1/underretninger", (p) => p.underretninger));
}

/** The list of underretninger, linking each to `${base}/<id>`. */
export function underretningTable(list: readonly UnderretningView[], base: string, caption: string, testid: string): HTMLElement {
  const cols: ColumnSpec<UnderretningView>[] = [
    {
      header: "Underretning",
      rowHeader: true,
      cell: (u) => h("a", { href: `${base}/${encodeURIComponent(u.notice?.underretningId ?? "")}`, "data-link": true }, u.notice?.underretningId ?? ""),
    },
    { header: "Status", cell: (u) => statusBadge(u) },
    { header: "Frist for kvittering", cell: (u) => (u.receiptAt ? `kvitteret ${formatDate(u.receiptAt)}` : deadline(u)) },
    { header: "Sendt", cell: (u) => formatDate(u.notice?.createdAt) },
    { header: "Kommune", cell: (u) => municipalityName(u.notice?.kommunekode) },
    {
      header: "Indhold",
      cell: (u) => {
        const c = counts(u);
        return `${c.children} ${c.children === 1 ? "barn" : "børn"}, ${c.incidents} ${c.incidents === 1 ? "hændelse" : "hændelser"}`;
      },
    },
    { header: "Svar", cell: (u) => responseLabel(u.response) },
  ];
  return dataTable(cols, list, { caption, empty: "Ingen underretninger.", testid });
}

function incidentCodes(i: UnderretningIncident): string {
  return [...(i.incidentCodes ?? []), ...(i.offenceCodes ?? [])].join(", ");
}

function incidentMarks(i: UnderretningIncident, followUp: boolean): string {
  const marks: string[] = [];
  if (i.severe) marks.push("alvorlig");
  if (followUp && i.newSincePrevious) marks.push("ny siden sidste underretning");
  if (i.sentAtScene) marks.push("underretning sendt på stedet");
  return marks.join(", ");
}

function noticeTables(u: UnderretningView): HTMLElement[] {
  const n = u.notice ?? {};
  const adults = new Map((n.adults ?? []).map((a) => [a.cpr ?? "", a.name ?? ""]));
  return [
    h("h2", {}, "Børn"),
    dataTable(
      [
        { header: "Navn", rowHeader: true, cell: (c) => c.name ?? "" },
        { header: "CPR-nummer", cell: (c) => formatCpr(c.cpr) },
        { header: "Bopælskommune", cell: (c) => municipalityName(c.homeKommunekode) },
        { header: "Regel", cell: (c) => (c.rules ?? []).map(ruleLabel).join(" og ") },
        { header: "Samlet vægt", numeric: true, cell: (c) => String(c.totalWeight ?? 0) },
      ],
      n.children ?? [],
      { caption: "Børnene underretningen handler om", testid: "children" },
    ),
    h("h2", {}, "Voksne"),
    dataTable(
      [
        { header: "Navn", rowHeader: true, cell: (a) => a.name ?? "" },
        { header: "CPR-nummer", cell: (a) => formatCpr(a.cpr) },
        { header: "Bopælskommune", cell: (a) => municipalityName(a.homeKommunekode) },
      ],
      n.adults ?? [],
      { caption: "Børnenes voksne, der var involveret i hændelserne", testid: "adults" },
    ),
    h("h2", {}, "Hændelser"),
    dataTable(
      [
        { header: "Dato", rowHeader: true, cell: (i) => formatDateTime(i.occurredAt) },
        { header: "Journalnummer", cell: (i) => i.journalNumber ?? "" },
        { header: "Politikreds", cell: (i) => i.districtId ?? "" },
        { header: "Sket i", cell: (i) => municipalityName(i.locationKommunekode) },
        { header: "Koder", cell: (i) => incidentCodes(i) },
        { header: "Kategori", cell: (i) => (i.categories ?? []).map(categoryLabel).join(", ") },
        { header: "Vægt", numeric: true, cell: (i) => String(i.weight ?? 0) },
        { header: "Bemærk", cell: (i) => incidentMarks(i, Boolean(n.previousUnderretningId)) },
        {
          header: "Voksne (rolle)",
          cell: (i) => (i.adults ?? []).map((a) => `${adults.get(a.cpr ?? "") || a.cpr || ""} (${personRoleLabel(a.role).toLowerCase()})`).join(", "),
        },
      ],
      n.incidents ?? [],
      { caption: "Hændelserne, der tilsammen førte til underretningen", testid: "incidents" },
    ),
  ];
}

function overview(u: UnderretningView, base: string): HTMLElement {
  const n = u.notice ?? {};
  const clock = receiptClock(u);
  const receipt = u.receiptAt
    ? `${formatDateTime(u.receiptAt)}${u.receiptRecordedBy ? `, ${recordedByLabel(u.receiptRecordedBy)}` : ""}${clock.kind === "received" && clock.onTime === false ? " (efter fristen)" : clock.kind === "received" && clock.onTime ? " (til tiden)" : ""}`
    : "";
  return facts(
    [
      ["Status", clock.kind === "awaiting" ? [statusLabel(u.status), " ", statusBadge(u)] : statusBadge(u)],
      ["Sendt", formatDateTime(n.createdAt)],
      ["Fra", n.sender ?? ""],
      ["Til kommune", municipalityName(n.kommunekode)],
      ["Sendt til koordinatoren, fordi", reasonLabel(n.reason)],
      ["Frist for kvittering", n.receiptDueAt ? deadline(u) : ""],
      ["Kvitteret", receipt],
      ["Regel", `${ruleLabel(n.rule)} (tærskel ${n.threshold ?? 0}, ${n.lookBackMonths ?? 0} måneder tilbage)`],
      ["Kodeliste", n.rulesVersion ?? ""],
      [
        "Tidligere underretning",
        n.previousUnderretningId
          ? h("a", { href: `${base}/${encodeURIComponent(n.previousUnderretningId)}`, "data-link": true }, n.previousUnderretningId)
          : "",
      ],
      ["Videresendt", u.forwarding ? `${formatDate(u.forwarding.forwardedAt)} (${channelLabel(u.forwarding.channel).toLowerCase()})${u.forwarding.note ? `: ${u.forwarding.note}` : ""}` : ""],
    ],
    "overview",
  );
}

function responseHistory(u: UnderretningView): HTMLElement {
  return dataTable(
    [
      { header: "Tidspunkt", rowHeader: true, cell: (r) => formatDateTime(r.at) },
      { header: "Svar", cell: (r) => responseLabel(r.response) },
      { header: "Note", cell: (r) => r.note ?? "" },
      { header: "Registreret af", cell: (r) => recordedByLabel(r.recordedBy) },
    ],
    u.responses ?? [],
    { caption: "Kommunens svar, ældste først", empty: "Kommunen har ikke svaret endnu.", testid: "responses" },
  );
}

type Done = (message: string) => void;

/** A form that POSTs to socialsog and calls done() with `success` when it is answered. */
function actionForm(
  id: string,
  action: "receipt" | "response" | "forwarding",
  fields: HTMLElement[],
  submitLabel: string,
  bodyOf: (v: Record<string, string>) => Record<string, string>,
  success: string,
  done: Done,
  check?: (v: Record<string, string>) => FieldError[],
): HTMLElement {
  const form = h("form", { novalidate: true, "data-testid": `${action}-form` }, fields, h("button", { type: "submit", class: "button button-primary" }, submitLabel));
  onSubmit(form, {
    draftKey: `underretning-${action}-${id}`,
    check,
    send: (v) => call("socialsog", `/v1/underretninger/${encodeURIComponent(id)}/${action}`, { method: "POST", body: bodyOf(v) }),
    done: () => done(success),
  });
  return form;
}

function dayField(name: string, label: string, hint: string, min: string | undefined): HTMLElement {
  return textField({ name, label, hint, type: "date", attrs: { max: copenhagenDay(), ...(min ? { min: copenhagenDay(min) } : {}) } });
}

function receiptForm(u: UnderretningView, id: string, done: Done): HTMLElement {
  return h(
    "section",
    { "aria-labelledby": "kvittering" },
    h("h2", { id: "kvittering" }, "Kvittering for modtagelse"),
    h("p", {}, "Kvittér, når kommunen har modtaget underretningen. Er den modtaget en tidligere dag, så vælg datoen."),
    actionForm(id, "receipt", [dayField("receivedAt", "Modtaget den", "Lad feltet stå tomt, hvis den er modtaget nu.", u.notice?.createdAt)], "Kvittér for modtagelse", (v) => filled(v, ["receivedAt"]), "Kvitteringen er registreret.", done),
  );
}

function responseForm(id: string, done: Done): HTMLElement {
  return h(
    "section",
    { "aria-labelledby": "svar" },
    h("h2", { id: "svar" }, "Kommunens svar"),
    h("p", {}, "Registrér, hvad kommunen har gjort. Et nyt svar (fx en støtteforanstaltning efter en undersøgelse) lægges til historikken."),
    actionForm(
      id,
      "response",
      [
        radioGroup({ name: "response", label: "Svar", required: true, options: RESPONSE_OPTIONS.map((o) => [o.value, o.label]) }),
        textArea({ name: "note", label: "Note", hint: "Højst 500 tegn. Noten bliver i henvis og sendes ikke videre.", attrs: { maxlength: "500" } }),
      ],
      "Gem svar",
      (v) => ({ response: v.response ?? "", ...filled(v, ["note"]) }),
      "Svaret er registreret.",
      done,
      (v) => (v.response ? [] : [{ field: "response", reason: "one of the responses" }]),
    ),
  );
}

function forwardingForm(u: UnderretningView, id: string, done: Done): HTMLElement {
  return h(
    "section",
    { "aria-labelledby": "videresendelse" },
    h("h2", { id: "videresendelse" }, "Videresendt til kommunen"),
    h("p", {}, "Kommunen har ikke adgang til henvis. Registrér, at du har sendt underretningen videre på anden vis."),
    actionForm(
      id,
      "forwarding",
      [
        dayField("forwardedAt", "Videresendt den", "Lad feltet stå tomt, hvis den er sendt i dag.", u.notice?.createdAt),
        selectField({ name: "channel", label: "Sendt som", options: FORWARDING_CHANNELS.map((c) => [c.value, c.label]) }),
        textArea({ name: "note", label: "Note", hint: "Fx hvem i kommunen der har fået den. Højst 500 tegn.", attrs: { maxlength: "500" } }),
      ],
      "Registrér videresendelse",
      (v) => filled(v, ["forwardedAt", "channel", "note"]),
      "Videresendelsen er registreret.",
      done,
    ),
  );
}

function actions(u: UnderretningView, id: string, role: "municipality" | "coordinator", done: Done): HTMLElement[] {
  if (role === "municipality") {
    const out: HTMLElement[] = [];
    if (!u.receiptAt) out.push(receiptForm(u, id, done));
    out.push(responseForm(id, done));
    return out;
  }
  if (!u.notice?.reason) return [h("p", {}, "Underretningen er sendt til kommunen, som selv kvitterer og svarer.")];
  const out: HTMLElement[] = [];
  if (!u.forwarding) out.push(forwardingForm(u, id, done));
  if (!u.receiptAt) out.push(receiptForm(u, id, done));
  return out;
}

/** Renders the underretning `id` into `main`; `base` is the list's path ("/kommune/underretning"). */
export async function renderUnderretning(main: HTMLElement, id: string, role: "municipality" | "coordinator", back: string, flash = ""): Promise<void> {
  clear(main);
  const backLink = h("a", { href: back, class: "back-link", "data-link": true }, "Tilbage til oversigten");
  main.append(backLink, h("h1", { tabindex: "-1" }, `Underretning ${id}`));
  let u: UnderretningView;
  try {
    u = await call<UnderretningView>("socialsog", `/v1/underretninger/${encodeURIComponent(id)}`);
  } catch (e) {
    const text = e instanceof ApiError && e.kind === "not-found" ? "Underretningen findes ikke, eller du har ikke adgang til den." : describeError(e);
    main.append(alertBox("error", "Underretningen kunne ikke hentes", text));
    return;
  }
  const done: Done = (message) => void renderUnderretning(main, id, role, back, message);
  const base = back.replace(/\/$/, "") + "/underretning";
  main.append(
    flash ? alertBox("success", flash) : "",
    overview(u, base),
    ...actions(u, id, role, done),
    h("h2", {}, "Svar og historik"),
    responseHistory(u),
    ...noticeTables(u),
  );
  if (flash) main.querySelector<HTMLElement>(".alert-success")?.setAttribute("tabindex", "-1");
  (main.querySelector<HTMLElement>(flash ? ".alert-success" : "h1") ?? main).focus();
}
