// What the centre pages need from router and notifier: the referral views,
// the worklist order (open first, then deadline), the deadline in working
// days (docs/lifecycle.md: a referral waiting on the centre gets a reminder
// after `reminder_working_days`, default 2, full working days without an
// outcome), the allowed outcomes, and the inbox entries to acknowledge.

import { copenhagenDay } from "./format";
import { addWorkingDays, workingDaysBetween } from "./workdays";

export interface Person {
  cpr?: string;
  name?: string;
  phone?: string;
  email?: string;
  preferredContactTime?: string;
}

export interface HistoryEntry {
  status?: string;
  at?: string;
  reason?: string;
  occurredAt?: string;
  note?: string;
  actor?: string;
  centreId?: string;
}

export interface Referral {
  referralId: string;
  offerId?: string;
  status?: string;
  centreId?: string;
  kommunekode?: number;
  municipalityName?: string;
  journalNumber?: string;
  offence?: string;
  chargedAt?: string;
  person?: Person;
  consent?: { textVersion?: string; givenAt?: string };
  createdAt?: string;
  history?: HistoryEntry[];
  reason?: string;
  contactAttempts?: number;
  priorReferrals90d?: number;
  priorReferrals5y?: number;
  attemptsLeft?: number;
}

export interface ReferralList {
  referrals?: Referral[];
  nextCursor?: string;
}

export interface InboxEntry {
  notificationId: string;
  kind?: string;
  referral?: { referralId?: string };
  acknowledgedAt?: string;
}

export interface Inbox {
  entries?: InboxEntry[];
  nextCursor?: string;
}

export const REMINDER_WORKING_DAYS = 2;

const S = (s: string) => `REFERRAL_STATUS_${s.toUpperCase()}`;
const FROM_OPEN = ["contact_attempted", "reached", "conversation_held", "declined", "unreachable", "closed"];
/** docs/lifecycle.md's table: the outcomes a centre may record from each status. */
export const ALLOWED: Record<string, string[]> = {
  [S("routed")]: FROM_OPEN.map(S),
  [S("delivered")]: FROM_OPEN.map(S),
  [S("acknowledged")]: FROM_OPEN.map(S),
  [S("contact_attempted")]: FROM_OPEN.map(S),
  [S("reached")]: ["conversation_held", "declined", "closed"].map(S),
  [S("conversation_held")]: ["further_sessions_accepted", "declined", "closed"].map(S),
  [S("further_sessions_accepted")]: [S("closed")],
};

/** Statuses in which the referral waits on the centre (the reminder clock runs). */
const WAITING = new Set(["routed", "delivered", "acknowledged", "contact_attempted", "reached"].map(S));

export function isOpen(r: Referral): boolean {
  return (r.status ?? "") in ALLOWED;
}

/** The last time the centre's clock (re)started: the newest history entry, else creation. */
export function clockStart(r: Referral): string | undefined {
  const times = (r.history ?? []).map((h) => h.at ?? "").filter(Boolean).sort();
  return times.length ? times[times.length - 1] : r.createdAt;
}

export interface Deadline {
  day: string;
  /** Working days after today up to the deadline; 0 = today, negative = overdue. */
  left: number;
}

export function deadline(r: Referral, today = copenhagenDay()): Deadline | null {
  if (!WAITING.has(r.status ?? "")) return null;
  const start = clockStart(r);
  if (!start) return null;
  const day = addWorkingDays(copenhagenDay(start), REMINDER_WORKING_DAYS);
  return { day, left: workingDaysBetween(today, day) };
}

export function deadlineText(d: Deadline | null): string {
  if (!d) return "";
  if (d.left > 1) return `${d.left} arbejdsdage`;
  if (d.left === 1) return "1 arbejdsdag";
  if (d.left === 0) return "Frist i dag";
  return `Overskredet (${-d.left} ${d.left === -1 ? "arbejdsdag" : "arbejdsdage"})`;
}

/** Open first; among open ones the nearest deadline first; then newest. */
export function worklistOrder(a: Referral, b: Referral): number {
  const oa = isOpen(a) ? 0 : 1, ob = isOpen(b) ? 0 : 1;
  if (oa !== ob) return oa - ob;
  const da = deadline(a)?.day ?? "9999", db = deadline(b)?.day ?? "9999";
  if (da !== db) return da < db ? -1 : 1;
  return (b.createdAt ?? "").localeCompare(a.createdAt ?? "");
}

function digits(s: string): string {
  return s.replace(/\D/g, "");
}

/** Search by name, CPR or journal number (client-side, on the loaded referrals). */
export function matches(r: Referral, q: string): boolean {
  const query = q.trim().toLowerCase();
  if (!query) return true;
  if ((r.person?.name ?? "").toLowerCase().includes(query)) return true;
  if ((r.journalNumber ?? "").toLowerCase().includes(query)) return true;
  const d = digits(query);
  return d.length >= 4 && (digits(r.person?.cpr ?? "").includes(d) || digits(r.journalNumber ?? "").includes(d));
}

function csvCell(v: unknown): string {
  const s = v === undefined || v === null ? "" : String(v);
  // Cells a spreadsheet would read as a formula get a leading apostrophe.
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[";\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** Semicolon-separated (Danish Excel), UTF-8 with BOM. */
export function referralsCsv(list: Referral[], statusName: (s?: string) => string, dateText: (s?: string) => string): string {
  const head = ["henvisning", "journalnummer", "status", "oprettet", "frist", "kommune", "navn", "cpr", "telefon", "kontaktforsøg"];
  const rows = list.map((r) => [r.referralId, r.journalNumber, statusName(r.status), dateText(r.createdAt), deadline(r)?.day ?? "",
    r.municipalityName, r.person?.name, r.person?.cpr, r.person?.phone, r.contactAttempts ?? 0]);
  return `\ufeff${[head, ...rows].map((row) => row.map(csvCell).join(";")).join("\r\n")}\r\n`;
}
