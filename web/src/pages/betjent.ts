// /betjent — the officer at the roadside (phone first, 360 px): register an
// offer and its answer, see the coverage answer, and today's offers with
// withdrawal. Offers are sent through OfferStore (offers.ts): created with
// their own id, kept on the device until intake confirms, sent when the
// network returns.

import municipalities from "henvis:municipalities";
import { ApiError, describeError } from "../api";
import { alertBox, clear, h } from "../dom";
import { type BoundForm, bindForm, checkbox, danishReason, radioGroup, selectField, textField } from "../form";
import { formatDateTime, formatTime, fromLocalInput, toLocalInput } from "../format";
import { OfferStore, type OfferBody, type StoredOffer, checkOffer, coverageSentence } from "../offers";
import type { Page, PageContext } from "../router";

export const CONSENT_VERSION = "rusmiddel-samtykke-v1";
const CONSENT_TEXT = [
  "Jeg giver samtykke til, at politiet sender mit navn, mit CPR-nummer og mine kontaktoplysninger " +
    "til rusmiddelcentret i min bopælskommune, så centret kan kontakte mig og tilbyde en samtale.",
  "Samtalen er gratis og frivillig og har ingen betydning for sagen mod mig. " +
    "Jeg kan til enhver tid trække samtykket tilbage ved at kontakte politiet eller rusmiddelcentret; " +
    "så slettes mine oplysninger.",
];

function offerForm(officerId: string): HTMLFormElement {
  const options: [string, string][] = [["", "Vælg kommune"], ...municipalities.map((m): [string, string] => [String(m.kommunekode), m.name]), ["0", "Ingen fast bopæl / ukendt"]];
  const personFields = h("fieldset", { class: "yes-only", hidden: true },
    h("legend", { class: "h3" }, "Personen"),
    h("div", { class: "consent", "data-field": "consent" },
      h("h3", {}, "Samtykke"),
      CONSENT_TEXT.map((p) => h("p", { class: "consent-text" }, p)),
      h("p", { class: "form-hint" }, `Version: ${CONSENT_VERSION}`),
      checkbox({ name: "consentGiven", label: "Personen har læst (eller fået læst op) teksten og giver samtykke", required: true })),
    textField({ name: "person.cpr", label: "CPR-nummer", required: true, hint: "DDMMÅÅ-SSSS", attrs: { inputmode: "numeric", autocomplete: "off" } }),
    textField({ name: "person.name", label: "Navn", required: true, attrs: { autocomplete: "off" } }),
    textField({ name: "person.phone", label: "Telefon", type: "tel", required: true, hint: "8 cifre, eller + og landekode", attrs: { autocomplete: "off" } }),
    textField({ name: "person.email", label: "E-mail", type: "email", attrs: { autocomplete: "off" } }),
    textField({ name: "person.preferredContactTime", label: "Hvornår vil personen helst kontaktes?", attrs: { autocomplete: "off" } }),
  );
  const form = h("form", { class: "offer-form", novalidate: true },
    selectField({ name: "kommunekode", label: "Personens bopælskommune", required: true, options }),
    textField({ name: "journalNumber", label: "Journalnummer", required: true, hint: "NNNN-NNNNN-NNNNN-ÅÅ", attrs: { autocomplete: "off" } }),
    radioGroup({ name: "offence", label: "Overtrædelse", required: true, options: [["OFFENCE_DRUNK", "Spirituskørsel"], ["OFFENCE_DRUG", "Narkokørsel"], ["OFFENCE_BOTH", "Begge"]] }),
    textField({ name: "chargedAt", label: "Sigtet (dato og klokkeslæt)", type: "datetime-local", required: true, value: toLocalInput() }),
    textField({ name: "officerId", label: "Dit tjenestenummer", required: true, value: officerId, attrs: { autocomplete: "off" } }),
    radioGroup({ name: "answer", label: "Vil personen kontaktes af et rusmiddelcenter?", required: true, options: [["ANSWER_YES", "Ja"], ["ANSWER_NO", "Nej"]] }),
    personFields,
    h("button", { type: "submit", class: "button button-primary" }, "Registrér"),
  );
  const sync = () => {
    const yes = (form.querySelector("input[name=answer]:checked") as HTMLInputElement | null)?.value === "ANSWER_YES";
    personFields.hidden = !yes;
  };
  form.addEventListener("change", sync);
  queueMicrotask(sync);
  return form;
}

function bodyOf(v: Record<string, string>): OfferBody {
  const yes = v.answer === "ANSWER_YES";
  const body: OfferBody = {
    offerId: crypto.randomUUID(),
    journalNumber: (v.journalNumber ?? "").trim(),
    offence: v.offence ?? "",
    chargedAt: fromLocalInput(v.chargedAt ?? "") ?? "",
    officerId: (v.officerId ?? "").trim(),
    answer: v.answer ?? "",
    kommunekode: v.kommunekode ? Number(v.kommunekode) : -1,
  };
  if (!yes) return body;
  body.person = { cpr: (v["person.cpr"] ?? "").trim(), name: (v["person.name"] ?? "").trim(), phone: (v["person.phone"] ?? "").trim() };
  if (v["person.email"]?.trim()) body.person.email = v["person.email"].trim();
  if (v["person.preferredContactTime"]?.trim()) body.person.preferredContactTime = v["person.preferredContactTime"].trim();
  if (v.consentGiven === "yes") body.consent = { textVersion: CONSENT_VERSION, givenAt: new Date().toISOString() };
  return body;
}

/** Puts a refused offer's values back in the form (a new offer id is made when sent). */
function fillForm(bound: BoundForm, b: OfferBody): void {
  bound.set("kommunekode", b.kommunekode >= 0 ? String(b.kommunekode) : "");
  bound.set("journalNumber", b.journalNumber);
  bound.set("offence", b.offence);
  if (b.chargedAt) bound.set("chargedAt", toLocalInput(b.chargedAt));
  bound.set("officerId", b.officerId);
  bound.set("answer", b.answer);
  for (const [k, v] of Object.entries(b.person ?? {})) bound.set(`person.${k}`, v ?? "");
  bound.set("consentGiven", b.consent ? "yes" : "");
  bound.form.dispatchEvent(new Event("change"));
}

function municipalityName(k: number): string {
  return municipalities.find((m) => m.kommunekode === k)?.name ?? (k ? String(k) : "Ukendt");
}

function stateText(o: StoredOffer): string {
  switch (o.state) {
    case "queued": return "Venter på netværk – sendes automatisk";
    case "rejected": return `Afvist: ${(o.reasons ?? []).map((r) => danishReason(r.slice(r.indexOf(":") + 1))).join(" ")}`;
    case "withdrawn": return "Samtykke trukket tilbage";
    default: return o.response ? coverageSentence(o.response) : "Sendt";
  }
}

function todayList(store: OfferStore, host: HTMLElement, status: HTMLElement, onFix: (b: OfferBody) => void): void {
  clear(host);
  const offers = store.all().sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  host.append(h("h2", {}, "Dagens tilbud"),
    h("p", { class: "form-hint" }, "Listen er gemt på denne enhed (henvis har ingen liste over en betjents tilbud)."));
  if (!offers.length) return void host.append(h("p", {}, "Ingen tilbud registreret i dag."));
  const list = h("ul", { class: "nobullet-list offer-list" });
  for (const o of offers) {
    const withdraw = o.state === "sent" && o.answer === "ANSWER_YES"
      ? h("button", { type: "button", class: "button button-secondary button-small" }, "Træk samtykke tilbage")
      : null;
    const fix = o.state === "rejected" && o.body ? h("button", { type: "button", class: "button button-secondary button-small" }, "Ret og send igen") : null;
    fix?.addEventListener("click", () => {
      store.remove(o.offerId);
      onFix(o.body!);
      todayList(store, host, status, onFix);
    });
    withdraw?.addEventListener("click", async () => {
      if (!confirm(`Træk samtykket tilbage for journalnummer ${o.journalNumber}? Personens oplysninger slettes.`)) return;
      withdraw.disabled = true;
      try {
        await store.withdraw(o.offerId);
        clear(status);
        status.append(alertBox("success", "Samtykket er trukket tilbage", "Personens oplysninger slettes i henvis."));
      } catch (e) {
        clear(status);
        status.append(alertBox("error", "Tilbagetrækning lykkedes ikke", describeError(e)));
      }
      todayList(store, host, status, onFix);
    });
    list.append(h("li", { class: `offer-item offer-${o.state}`, "data-offer-id": o.offerId },
      h("p", { class: "offer-head" }, h("strong", {}, `${formatTime(o.createdAt)} · ${o.journalNumber}`),
        ` · ${municipalityName(o.kommunekode)} · ${o.answer === "ANSWER_YES" ? "Ja" : "Nej"}`),
      h("p", { class: "offer-state" }, stateText(o)),
      withdraw, fix));
  }
  host.append(list);
}

async function submit(ctx: PageContext, bound: BoundForm, store: OfferStore, status: HTMLElement, refresh: () => void): Promise<void> {
  bound.clearErrors();
  clear(status);
  const body = bodyOf(bound.values());
  const problems = checkOffer(body);
  if (problems.length) return bound.showErrors(problems);
  localStorage.setItem(`henvis-officer-id:${ctx.user.username}`, body.officerId);
  const queued = store.queue(body);
  const done = () => {
    bound.clearDraft();
    bound.form.reset();
    bound.set("chargedAt", toLocalInput());
    bound.set("officerId", body.officerId);
    bound.form.dispatchEvent(new Event("change"));
  };
  try {
    const sent = await store.send(queued);
    done();
    status.append(alertBox("success", "Registreret", h("strong", { "data-testid": "coverage" }, coverageSentence(sent.response ?? {}))));
  } catch (e) {
    if (e instanceof ApiError && e.retryable) {
      done();
      status.append(alertBox("warning", "Gemt på telefonen", `${describeError(e)} Tilbuddet (${body.journalNumber}) sendes automatisk, når der er forbindelse – der oprettes ikke to.`));
    } else {
      store.remove(queued.offerId);
      bound.showError(e);
    }
  }
  refresh();
}

// One "online" listener for the app's lifetime; it flushes the page shown last.
let onlineListening = false;
let onlineFlush: (() => Promise<void>) | null = null;
let onlineStore: OfferStore | null = null;

const page: Page = {
  path: "/betjent",
  role: "officer",
  title: "Registrér tilbud",
  render(main, ctx) {
    const store = new OfferStore(ctx.user.username);
    store.prune();
    const status = h("div", { class: "offer-status", "aria-live": "polite" });
    const listHost = h("section", { class: "today", "aria-label": "Dagens tilbud" });
    let bound: BoundForm | null = null;
    const refresh = () => todayList(store, listHost, status, (b) => {
      if (bound) fillForm(bound, b);
      bound?.form.scrollIntoView();
    });
    const officerId = localStorage.getItem(`henvis-officer-id:${ctx.user.username}`) ?? ctx.user.username;
    const form = offerForm(officerId);
    bound = bindForm(form, { draftKey: `betjent:${ctx.user.username}`, fieldMap: { consent: "consentGiven", "consent.textVersion": "consentGiven", "consent.givenAt": "consentGiven", person: "person.name" } });
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void submit(ctx, bound!, store, status, refresh);
    });
    main.append(h("h1", {}, "Registrér tilbud om rusmiddelsamtale"), status, form, listHost);
    refresh();
    const flush = async () => {
      if ((await store.flush()) > 0) {
        clear(status);
        status.append(alertBox("success", "Gemte tilbud er sendt", `Sendt ${formatDateTime(new Date())}.`));
      }
      refresh();
    };
    onlineFlush = flush;
    onlineStore = store;
    if (!onlineListening) {
      // Sent when the network returns, and retried every 30 s (a 429 or a 5xx leaves it queued too).
      window.addEventListener("online", () => void onlineFlush?.());
      setInterval(() => {
        if (navigator.onLine && location.pathname === "/betjent" && onlineStore?.all().some((o) => o.state === "queued")) void onlineFlush?.();
      }, 30_000);
    }
    onlineListening = true;
    void flush();
  },
};
export default page;
