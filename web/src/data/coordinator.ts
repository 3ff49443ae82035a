// The coordinator's data: Socialsøg scans (socialsog /v1/scans) and
// unroutable referrals (router /v1/referrals?status=unroutable) with their
// forwarding and closure. No DOM, no fetch: pure data (the idempotency keys
// take a Storage so the page can pass sessionStorage). The referral views
// are referrals.ts'.

export interface ScanView {
  scanId?: string;
  kind?: string;
  startedAt?: string;
  windowFrom?: string;
  windowTo?: string;
  receivedAfterSeq?: string;
  receivedUpToSeq?: string;
  incidentsConsidered?: number;
  incidentsWatched?: number;
  childrenFlagged?: number;
  childrenAlreadyNotified?: number;
  underretningerCreated?: number;
  underretningerLinked?: number;
  underretningIds?: string[];
  rulesVersion?: string;
  requestedBy?: string;
  windowBasis?: string;
}
export interface ScanList {
  scans?: ScanView[];
  nextCursor?: string;
}

export function scanKindLabel(kind: string | undefined): string {
  if (kind === 'weekly') return 'Ugentlig';
  if (kind === 'on_demand') return 'Kørt manuelt';
  return kind ?? '';
}

/** What a scan found, every count (0 too; proto3 JSON leaves 0 out). */
export function scanCounts(s: ScanView): { label: string; value: number }[] {
  return [
    { label: 'Hændelser gennemgået', value: s.incidentsConsidered ?? 0 },
    { label: 'Med en overvåget kode', value: s.incidentsWatched ?? 0 },
    { label: 'Børn fundet', value: s.childrenFlagged ?? 0 },
    { label: 'Børn allerede underrettet om', value: s.childrenAlreadyNotified ?? 0 },
    { label: 'Underretninger oprettet', value: s.underretningerCreated ?? 0 },
    { label: 'Heraf opfølgning på en tidligere', value: s.underretningerLinked ?? 0 },
  ];
}

/**
 * The window a scan covered, in words. `formatDate` turns an RFC 3339 time
 * into the page's dd.mm.yyyy (Copenhagen); windowTo is exclusive, so the last
 * day shown is the day before it (one millisecond before).
 */
export function scanWindowText(s: ScanView, formatDate: (iso: string) => string): string {
  if (s.windowBasis === 'occurred' && s.windowFrom && s.windowTo) {
    const last = new Date(Date.parse(s.windowTo) - 1).toISOString();
    return `Hændelser sket ${formatDate(s.windowFrom)}–${formatDate(last)}`;
  }
  const after = Number(s.receivedAfterSeq ?? '0');
  const upTo = Number(s.receivedUpToSeq ?? '0');
  if (upTo <= after) return 'Hændelser modtaget siden sidste ugentlige kørsel (ingen nye)';
  return `Hændelser modtaget siden sidste ugentlige kørsel (nr. ${after + 1}–${upTo})`;
}

export interface FieldError {
  field: string;
  reason: string;
}

/**
 * The body of POST /v1/scans from the form's two date pickers (YYYY-MM-DD):
 * both empty → no window (what the next weekly scan would take); both set,
 * from not after to → {from, to} (to is the last day included, as the API
 * reads a date). Else the field errors, in Danish, named like the API's.
 */
export function scanRequest(from: string, to: string): { body: Record<string, string> } | { errors: FieldError[] } {
  const f = from.trim();
  const t = to.trim();
  if (!f && !t) return { body: {} };
  const errors: FieldError[] = [];
  const day = /^\d{4}-\d{2}-\d{2}$/;
  if (!f) errors.push({ field: 'from', reason: 'Vælg en fra-dato (eller ryd begge datoer)' });
  else if (!day.test(f)) errors.push({ field: 'from', reason: 'Skriv datoen som dd.mm.åååå' });
  if (!t) errors.push({ field: 'to', reason: 'Vælg en til-dato (eller ryd begge datoer)' });
  else if (!day.test(t)) errors.push({ field: 'to', reason: 'Skriv datoen som dd.mm.åååå' });
  if (!errors.length && t < f) errors.push({ field: 'to', reason: 'Til-datoen skal være samme dag som fra-datoen eller senere' });
  return errors.length ? { errors } : { body: { from: f, to: t } };
}

export const UNROUTABLE_REASON_LABEL: Record<string, string> = {
  municipality_not_covered: 'Kommunen er ikke med i ordningen',
  municipality_unknown: 'Kommunen findes ikke i henvis’ kommuneliste',
  municipality_missing: 'Ingen bopælskommune angivet',
};

export function unroutableReasonLabel(reason: string | undefined): string {
  return UNROUTABLE_REASON_LABEL[reason ?? ''] ?? 'Ukendt årsag';
}

export const CLOSURE_REASONS: readonly { value: string; label: string }[] = [
  { value: 'duplicate', label: 'Dublet (samme sigtelse registreret to gange)' },
  { value: 'person_moved_abroad', label: 'Personen er flyttet til udlandet' },
  { value: 'handled_outside_henvis', label: 'Håndteret uden for henvis' },
  { value: 'other', label: 'Anden årsag (skriv en note)' },
];

/** Client-side checks mirroring the router's (it checks again): Danish field errors. */
export function closureErrors(reason: string, note: string): FieldError[] {
  const errors: FieldError[] = [];
  if (!CLOSURE_REASONS.some((r) => r.value === reason)) errors.push({ field: 'reason', reason: 'Vælg en årsag' });
  if (reason === 'other' && !note.trim()) errors.push({ field: 'note', reason: 'Skriv en note, når årsagen er "Anden årsag"' });
  if ([...note].length > 500) errors.push({ field: 'note', reason: 'Noten må højst være 500 tegn' });
  return errors;
}

export function forwardingErrors(centreId: string, note: string): FieldError[] {
  const errors: FieldError[] = [];
  if (!centreId.trim()) errors.push({ field: 'centreId', reason: 'Vælg det center, henvisningen skal sendes til' });
  if (!note.trim()) errors.push({ field: 'note', reason: 'Skriv hvorfor (noten kommer i henvisningens historik)' });
  if ([...note].length > 500) errors.push({ field: 'note', reason: 'Noten må højst være 500 tegn' });
  return errors;
}

/**
 * An Idempotency-Key per (action, referral), made once and kept in `store`
 * (sessionStorage) until the server has answered, so that a retry after a lost
 * answer, a reload or a new login sends the same key and has the effect of one.
 */
export function idempotencyKey(store: Storage, action: string, referralId: string): string {
  const name = `henvis.idem.${action}.${referralId}`;
  let key = store.getItem(name);
  if (!key) {
    key = crypto.randomUUID();
    store.setItem(name, key);
  }
  return key;
}

/** Forget the key once the server answered (2xx, or a 4xx that the same key would repeat). */
export function forgetIdempotencyKey(store: Storage, action: string, referralId: string): void {
  store.removeItem(`henvis.idem.${action}.${referralId}`);
}

/** A notification in the coordinator's inbox (notifier GET /v1/inbox), the fields the page shows. */
export interface InboxAlert {
  notificationId: string;
  kind?: string;
  deliveredAt?: string;
  acknowledgedAt?: string;
  referral?: { referralId?: string; journalNumber?: string; person?: { name?: string }; municipalityName?: string; centreId?: string; status?: string };
  underretning?: { underretningId?: string; kommunekode?: number; municipalityName?: string; receiptDueAt?: string };
}

export const ALERT_KIND_LABEL: Record<string, string> = {
  NOTIFICATION_KIND_ESCALATION: 'Centret har ikke handlet på en henvisning',
  NOTIFICATION_KIND_RECEIPT_MISSED: 'Kommunen har ikke kvitteret for en underretning',
};

/** The escalations and missed receipts among the inbox entries, oldest first (the inbox's order). */
export function inboxAlerts(entries: readonly InboxAlert[]): InboxAlert[] {
  return entries.filter((e) => (e.kind ?? '') in ALERT_KIND_LABEL && !e.acknowledgedAt);
}
