// The officer's offers on this device (localStorage), because intake has no
// list of an officer's offers: each offer is kept with its id and exact body
// until intake confirms it (so a retry sends the same offerId and body and
// gets intake's idempotent answer, never a second offer), then kept without
// the person's data for the rest of the day (the list "dagens tilbud", with
// withdrawal). Older confirmed offers are dropped when the page loads.

import { ApiError, type FieldError, call } from "./api";
import { copenhagenDay } from "./format";

export interface OfferBody {
  offerId: string;
  journalNumber: string;
  offence: string;
  chargedAt: string;
  officerId: string;
  answer: string;
  kommunekode: number;
  person?: { cpr: string; name: string; phone: string; email?: string; preferredContactTime?: string };
  consent?: { textVersion: string; givenAt: string };
}

export interface OfferResponse {
  offerId?: string;
  referralId?: string;
  answer?: string;
  kommunekode?: number;
  municipalityName?: string;
  covered?: boolean;
  message?: string;
}

export type OfferState = "queued" | "sent" | "rejected" | "withdrawn";

export interface StoredOffer {
  offerId: string;
  state: OfferState;
  createdAt: string;
  journalNumber: string;
  answer: string;
  kommunekode: number;
  /** Only while not confirmed (queued or rejected): what will be (re)sent. */
  body?: OfferBody;
  response?: OfferResponse;
  reasons?: string[];
}

export class OfferStore {
  constructor(private readonly username: string) {}

  private get key(): string {
    return `henvis-offers:${this.username}`;
  }

  all(): StoredOffer[] {
    try {
      return JSON.parse(localStorage.getItem(this.key) ?? "[]") as StoredOffer[];
    } catch {
      return [];
    }
  }

  private save(list: StoredOffer[]): void {
    localStorage.setItem(this.key, JSON.stringify(list));
  }

  put(o: StoredOffer): void {
    const list = this.all().filter((x) => x.offerId !== o.offerId);
    list.push(o);
    this.save(list);
  }

  remove(offerId: string): void {
    this.save(this.all().filter((x) => x.offerId !== offerId));
  }

  /** Drops confirmed offers of earlier days; unsent ones stay until sent. */
  prune(today = copenhagenDay()): void {
    this.save(this.all().filter((o) => o.state === "queued" || o.state === "rejected" || copenhagenDay(o.createdAt) === today));
  }

  queue(body: OfferBody): StoredOffer {
    const o: StoredOffer = {
      offerId: body.offerId,
      state: "queued",
      createdAt: new Date().toISOString(),
      journalNumber: body.journalNumber,
      answer: body.answer,
      kommunekode: body.kommunekode,
      body,
    };
    this.put(o);
    return o;
  }

  /**
   * Sends one queued offer. Network errors, 429 and 5xx leave it queued (and
   * rethrow); a 400 marks it rejected with the reasons; success keeps only the
   * answer (no personal data).
   */
  async send(o: StoredOffer): Promise<StoredOffer> {
    if (!o.body) return o;
    try {
      const response = await call<OfferResponse>("intake", "/v1/offers", { body: o.body });
      const done: StoredOffer = { ...o, state: "sent", response, body: undefined, reasons: undefined };
      this.put(done);
      return done;
    } catch (e) {
      if (e instanceof ApiError && (e.kind === "invalid" || e.kind === "conflict")) {
        const rejected: StoredOffer = { ...o, state: "rejected", reasons: e.fieldErrors.map((f) => `${f.field}: ${f.reason}`) };
        this.put(rejected);
      }
      throw e;
    }
  }

  /** Sends every queued offer, oldest first; stops at the first network failure. */
  async flush(): Promise<number> {
    let sent = 0;
    for (const o of this.all().filter((x) => x.state === "queued").sort((a, b) => a.createdAt.localeCompare(b.createdAt))) {
      try {
        await this.send(o);
        sent += 1;
      } catch (e) {
        if (e instanceof ApiError && e.retryable) break;
      }
    }
    return sent;
  }

  async withdraw(offerId: string): Promise<void> {
    await call("intake", `/v1/offers/${encodeURIComponent(offerId)}/withdrawal`, { method: "POST" });
    const o = this.all().find((x) => x.offerId === offerId);
    if (o) this.put({ ...o, state: "withdrawn" });
  }
}

/** The sentence the officer sees for intake's answer. */
export function coverageSentence(r: OfferResponse): string {
  const name = r.municipalityName ?? "";
  if (r.answer !== "ANSWER_YES") return "Nej er registreret (uden personoplysninger).";
  if (r.covered) return `${name} Rusmiddelcenter kontakter personen.`;
  if (!name) return "Ingen bopælskommune: koordinatoren får besked og finder centret.";
  return `${name} er ikke med: koordinatoren får besked.`;
}

const JOURNAL = /^\d{4}-\d{5}-\d{5}-\d{2}$/;
const CPR = /^\d{6}-?\d{4}$/;

/** The checks intake makes that need no server (so an offline offer is not queued broken). */
export function checkOffer(b: OfferBody): FieldError[] {
  const e: FieldError[] = [];
  if (!JOURNAL.test(b.journalNumber)) e.push({ field: "journalNumber", reason: "journal number must be 19 characters: NNNN-NNNNN-NNNNN-YY" });
  if (!b.offence) e.push({ field: "offence", reason: "required" });
  if (!b.chargedAt) e.push({ field: "chargedAt", reason: "required: RFC 3339 time" });
  else if (Date.parse(b.chargedAt) > Date.now() + 5 * 60_000) e.push({ field: "chargedAt", reason: "must not be in the future" });
  if (!b.officerId) e.push({ field: "officerId", reason: "required" });
  if (!b.answer) e.push({ field: "answer", reason: "required" });
  if (b.kommunekode < 0) e.push({ field: "kommunekode", reason: "required" });
  if (b.answer !== "ANSWER_YES") return e;
  if (!CPR.test(b.person?.cpr ?? "")) e.push({ field: "person.cpr", reason: "CPR number must have exactly 10 digits (DDMMYY-SSSS)" });
  if (!b.person?.name) e.push({ field: "person.name", reason: "required" });
  if (!b.person?.phone) e.push({ field: "person.phone", reason: "phone number is empty" });
  if (!b.consent) e.push({ field: "consent", reason: "required" });
  return e;
}
