// Underretninger (socialsog's GET /v1/underretninger) shaped for the
// municipality's and the coordinator's pages: the receipt clock, the order
// (pending receipt first, fewest working days left first) and the Danish
// words for the API's enums. No DOM, no fetch: pure data.

export type SocialsogRule = 'SOCIALSOG_RULE_UNSPECIFIED' | 'SOCIALSOG_RULE_SEVERE' | 'SOCIALSOG_RULE_THRESHOLD';
export type UnderretningResponse =
  | 'UNDERRETNING_RESPONSE_UNSPECIFIED'
  | 'UNDERRETNING_RESPONSE_NO_ACTION'
  | 'UNDERRETNING_RESPONSE_ASSESSMENT_STARTED'
  | 'UNDERRETNING_RESPONSE_SUPPORT_MEASURE';

export interface UnderretningChild {
  cpr?: string;
  name?: string;
  homeKommunekode?: number;
  rules?: SocialsogRule[];
  totalWeight?: number;
}
export interface UnderretningAdult {
  cpr?: string;
  name?: string;
  homeKommunekode?: number;
}
export interface UnderretningIncident {
  incidentId?: string;
  journalNumber?: string;
  occurredAt?: string;
  districtId?: string;
  locationKommunekode?: number;
  incidentCodes?: string[];
  offenceCodes?: string[];
  categories?: string[];
  weight?: number;
  severe?: boolean;
  sentAtScene?: boolean;
  newSincePrevious?: boolean;
  adults?: { cpr?: string; role?: string }[];
}
export interface UnderretningNotice {
  underretningId?: string;
  kommunekode?: number;
  municipalityName?: string;
  sender?: string;
  districtId?: string;
  children?: UnderretningChild[];
  adults?: UnderretningAdult[];
  incidents?: UnderretningIncident[];
  rule?: SocialsogRule;
  rulesVersion?: string;
  threshold?: number;
  lookBackMonths?: number;
  previousUnderretningId?: string;
  scanId?: string;
  createdAt?: string;
  receiptDueAt?: string;
  reason?: string;
}
export interface UnderretningResponseEntry {
  response?: UnderretningResponse;
  note?: string;
  at?: string;
  recordedBy?: string;
}
export interface UnderretningForwarding {
  forwardedAt?: string;
  channel?: string;
  note?: string;
  recordedBy?: string;
  recordedAt?: string;
}
export interface UnderretningView {
  notice?: UnderretningNotice;
  recipientId?: string;
  notificationId?: string;
  deliveredAt?: string;
  receiptAt?: string;
  receiptMissed?: boolean;
  response?: UnderretningResponse;
  responseAt?: string;
  responseNote?: string;
  responses?: UnderretningResponseEntry[];
  receiptRecordedBy?: string;
  forwarding?: UnderretningForwarding;
  status?: string;
  workingDaysLeft?: number;
}
export interface UnderretningList {
  underretninger?: UnderretningView[];
  nextCursor?: string;
}

/** The receipt clock of one underretning as the page shows it. */
export type ReceiptClock =
  | { kind: 'awaiting'; workingDaysLeft: number; overdue: boolean; dueAt: string }
  | { kind: 'no-clock' } // sent to a coordinator: no receipt deadline
  | { kind: 'received'; at: string; onTime: boolean | undefined };

export function awaitingReceipt(u: UnderretningView): boolean {
  return u.status === 'pending' || u.status === 'overdue';
}

/** Proto3 JSON leaves out a 0, so an awaited receipt without workingDaysLeft has 0 left. */
export function receiptClock(u: UnderretningView): ReceiptClock {
  if (!awaitingReceipt(u)) {
    const at = u.receiptAt ?? u.responseAt ?? '';
    const due = u.notice?.receiptDueAt;
    if (!due || !at) return { kind: 'received', at, onTime: undefined };
    return { kind: 'received', at, onTime: !u.receiptMissed && Date.parse(at) < Date.parse(due) };
  }
  const due = u.notice?.receiptDueAt;
  if (!due) return { kind: 'no-clock' };
  const left = u.workingDaysLeft ?? 0;
  return { kind: 'awaiting', workingDaysLeft: left, overdue: u.status === 'overdue' || left <= 0, dueAt: due };
}

function time(s: string | undefined): number {
  const t = s ? Date.parse(s) : NaN;
  return Number.isNaN(t) ? 0 : t;
}

// Sort key: 0 awaiting with a clock (fewest days left first, then the earliest
// deadline), 1 awaiting without a clock (oldest first), 2 received (newest first).
function group(u: UnderretningView): number {
  if (!awaitingReceipt(u)) return 2;
  return u.notice?.receiptDueAt ? 0 : 1;
}

export function compareUnderretninger(a: UnderretningView, b: UnderretningView): number {
  const ga = group(a);
  const gb = group(b);
  if (ga !== gb) return ga - gb;
  let d = 0;
  if (ga === 0) {
    d = (a.workingDaysLeft ?? 0) - (b.workingDaysLeft ?? 0);
    if (d === 0) d = time(a.notice?.receiptDueAt) - time(b.notice?.receiptDueAt);
  } else if (ga === 1) {
    d = time(a.notice?.createdAt) - time(b.notice?.createdAt);
  } else {
    d = time(b.receiptAt ?? b.notice?.createdAt) - time(a.receiptAt ?? a.notice?.createdAt);
  }
  if (d !== 0) return d;
  return (a.notice?.underretningId ?? '').localeCompare(b.notice?.underretningId ?? '');
}

/** A sorted copy: pending receipt first by working days left, then the received, newest first. */
export function sortUnderretninger(list: readonly UnderretningView[]): UnderretningView[] {
  return [...list].sort(compareUnderretninger);
}

/** Adds a page to what is already shown, without duplicates (a receipt between two pages can repeat one). */
export function mergePages(shown: readonly UnderretningView[], page: readonly UnderretningView[]): UnderretningView[] {
  const byId = new Map<string, UnderretningView>();
  for (const u of [...shown, ...page]) byId.set(u.notice?.underretningId ?? '', u);
  return sortUnderretninger([...byId.values()]);
}

export const STATUS_LABEL: Record<string, string> = {
  pending: 'Afventer kvittering',
  overdue: 'Frist for kvittering overskredet',
  received: 'Kvitteret',
  responded: 'Besvaret',
};

export function statusLabel(status: string | undefined): string {
  return STATUS_LABEL[status ?? ''] ?? 'Ukendt status';
}

/** "3 arbejdsdage tilbage", "Sidste dag i dag", "Fristen er overskredet". */
export function workingDaysText(left: number): string {
  if (left <= 0) return 'Fristen er overskredet';
  if (left === 1) return '1 arbejdsdag tilbage (sidste dag)';
  return `${left} arbejdsdage tilbage`;
}

export const RULE_LABEL: Record<string, string> = {
  SOCIALSOG_RULE_SEVERE: 'En alvorlig hændelse',
  SOCIALSOG_RULE_THRESHOLD: 'Samlet vægt over tærsklen',
};

export function ruleLabel(rule: string | undefined): string {
  return RULE_LABEL[rule ?? ''] ?? 'Ikke angivet';
}

export const CATEGORY_LABEL: Record<string, string> = {
  RISK_CATEGORY_DRINK_DRUG_DRIVING: 'Spiritus- eller narkokørsel',
  RISK_CATEGORY_VIOLENCE: 'Vold',
  RISK_CATEGORY_DOMESTIC_DISTURBANCE: 'Husspektakel',
  RISK_CATEGORY_THREATS_INCL_SUICIDE: 'Trusler, også om selvmord',
  RISK_CATEGORY_CHILD_NEGLECT: 'Omsorgssvigt',
};

export function categoryLabel(c: string): string {
  return CATEGORY_LABEL[c] ?? c;
}

export const PERSON_ROLE_LABEL: Record<string, string> = {
  PERSON_ROLE_SUSPECT: 'Mistænkt',
  PERSON_ROLE_VICTIM: 'Forurettet',
  PERSON_ROLE_WITNESS: 'Vidne',
  PERSON_ROLE_INVOLVED_ADULT: 'Involveret voksen',
};

export function personRoleLabel(r: string | undefined): string {
  return PERSON_ROLE_LABEL[r ?? ''] ?? 'Ikke angivet';
}

/** The responses a municipality can record, in the order of the form. */
export const RESPONSE_OPTIONS: readonly { value: UnderretningResponse; label: string }[] = [
  { value: 'UNDERRETNING_RESPONSE_NO_ACTION', label: 'Ingen foranstaltning' },
  { value: 'UNDERRETNING_RESPONSE_ASSESSMENT_STARTED', label: 'Børnefaglig undersøgelse iværksat' },
  { value: 'UNDERRETNING_RESPONSE_SUPPORT_MEASURE', label: 'Støtteforanstaltning iværksat' },
];

export function responseLabel(r: string | undefined): string {
  return RESPONSE_OPTIONS.find((o) => o.value === r)?.label ?? 'Intet svar';
}

export const REASON_LABEL: Record<string, string> = {
  municipality_unknown: 'Barnets bopælskommune er ukendt',
  municipality_not_configured: 'Kommunen har ingen adgang til henvis',
};

/** Why an underretning went to the coordinator instead of a municipality ('' when it did not). */
export function reasonLabel(reason: string | undefined): string {
  if (!reason) return '';
  return REASON_LABEL[reason] ?? reason;
}

export const FORWARDING_CHANNELS: readonly { value: string; label: string }[] = [
  { value: 'e-mail', label: 'Sikker e-mail' },
  { value: 'letter', label: 'Brev' },
  { value: 'phone', label: 'Telefon' },
  { value: 'other', label: 'Andet' },
];

export function channelLabel(c: string | undefined): string {
  return FORWARDING_CHANNELS.find((o) => o.value === (c || 'other'))?.label ?? c ?? '';
}

/** Who recorded a receipt or response: the inbox, or a person/organisation label. */
export function recordedByLabel(by: string | undefined): string {
  if (!by) return '';
  if (by === 'inbox') return 'kvitteret i indbakken';
  return by;
}

/** Sent to a coordinator (no henvis account or unknown municipality) and not yet handled. */
export function needsCoordinator(u: UnderretningView): boolean {
  return Boolean(u.notice?.reason) && !u.forwarding && !u.receiptAt;
}

/** Escalations on the coordinator's page: overdue receipts and those sent to the coordinator. */
export function escalations(list: readonly UnderretningView[]): UnderretningView[] {
  return sortUnderretninger(list.filter((u) => u.status === 'overdue' || needsCoordinator(u)));
}

/** Number of children, adults, incidents: for the list's summary line. */
export function counts(u: UnderretningView): { children: number; adults: number; incidents: number } {
  return {
    children: u.notice?.children?.length ?? 0,
    adults: u.notice?.adults?.length ?? 0,
    incidents: u.notice?.incidents?.length ?? 0,
  };
}
