// The evaluation service's statistics (GET /v1/stats/referrals and
// /v1/stats/underretninger) shaped for tables and charts. Proto3 JSON leaves
// out a value of 0, and a withheld value is left out too but named in the
// row's `suppressed`: a cell is therefore a number, or "withheld". No DOM, no
// fetch: pure data.

import { formatNumber, formatPercent } from "../format";
import { offenceLabel } from "../labels";

export type StatsRow = Record<string, unknown> & { suppressed?: string[]; total?: boolean };

export interface StatsTable {
  from?: string;
  to?: string;
  groupBy?: string[];
  minCell?: number;
  rows?: StatsRow[];
  total?: StatsRow;
  dateBasis?: string;
}

export type Cell = { kind: 'value'; value: number } | { kind: 'withheld' };

export function cell(row: StatsRow, field: string): Cell {
  if (row.suppressed?.includes(field)) return { kind: 'withheld' };
  const v = row[field];
  return { kind: 'value', value: typeof v === 'number' ? v : 0 };
}

export interface Column {
  field: string;
  label: string;
  kind: 'count' | 'rate' | 'days';
}

/** The referral funnel's columns, in the order of the funnel. */
export const REFERRAL_COLUMNS: readonly Column[] = [
  { field: 'offered', label: 'Tilbudt', kind: 'count' },
  { field: 'accepted', label: 'Sagde ja', kind: 'count' },
  { field: 'declined', label: 'Sagde nej', kind: 'count' },
  { field: 'routed', label: 'Sendt til center', kind: 'count' },
  { field: 'unroutable', label: 'Ikke dækket', kind: 'count' },
  { field: 'delivered', label: 'Modtaget af center', kind: 'count' },
  { field: 'contactAttempted', label: 'Kontakt forsøgt', kind: 'count' },
  { field: 'conversationHeld', label: 'Samtale holdt', kind: 'count' },
  { field: 'furtherSessionsAccepted', label: 'Flere samtaler', kind: 'count' },
  { field: 'withdrawn', label: 'Samtykke trukket tilbage', kind: 'count' },
  { field: 'contactAttemptedRate', label: 'Kontakt forsøgt, andel', kind: 'rate' },
  { field: 'conversationHeldRate', label: 'Samtale holdt, andel', kind: 'rate' },
  { field: 'furtherSessionsAcceptedRate', label: 'Flere samtaler, andel', kind: 'rate' },
  { field: 'medianDaysToFirstContact', label: 'Dage til første kontakt (median)', kind: 'days' },
];

/** The funnel's steps as a chart shows them: each a share of the one before or of `accepted`. */
export const FUNNEL_STEPS: readonly { field: string; label: string }[] = [
  { field: 'offered', label: 'Tilbudt' },
  { field: 'accepted', label: 'Sagde ja' },
  { field: 'routed', label: 'Sendt til center' },
  { field: 'delivered', label: 'Modtaget af center' },
  { field: 'contactAttempted', label: 'Kontakt forsøgt' },
  { field: 'conversationHeld', label: 'Samtale holdt' },
  { field: 'furtherSessionsAccepted', label: 'Flere samtaler' },
];

/** Socialsøg's columns. */
export const UNDERRETNING_COLUMNS: readonly Column[] = [
  { field: 'underretninger', label: 'Underretninger', kind: 'count' },
  { field: 'childrenFlagged', label: 'Børn', kind: 'count' },
  { field: 'childrenCrossDistrict', label: 'Børn, flere politikredse', kind: 'count' },
  { field: 'childrenCrossMunicipality', label: 'Børn, flere kommuner', kind: 'count' },
  { field: 'receiptsOnTime', label: 'Kvitteret til tiden', kind: 'count' },
  { field: 'receiptsMissed', label: 'Frist overskredet', kind: 'count' },
  { field: 'receiptsPending', label: 'Afventer kvittering', kind: 'count' },
  { field: 'sentToCoordinator', label: 'Sendt til koordinator', kind: 'count' },
  { field: 'responseNoAction', label: 'Svar: ingen foranstaltning', kind: 'count' },
  { field: 'responseAssessmentStarted', label: 'Svar: undersøgelse', kind: 'count' },
  { field: 'responseSupportMeasure', label: 'Svar: støtteforanstaltning', kind: 'count' },
  { field: 'responseNone', label: 'Intet svar', kind: 'count' },
  { field: 'crossDistrictShare', label: 'Andel, flere politikredse', kind: 'rate' },
  { field: 'crossMunicipalityShare', label: 'Andel, flere kommuner', kind: 'rate' },
  { field: 'receiptsOnTimeShare', label: 'Andel kvitteret til tiden', kind: 'rate' },
];

export const REFERRAL_DIMENSIONS: readonly { value: string; label: string }[] = [
  { value: 'month', label: 'Måned' },
  { value: 'municipality', label: 'Kommune' },
  { value: 'offence', label: 'Overtrædelse' },
  { value: 'district', label: 'Politikreds' },
];

export const UNDERRETNING_DIMENSIONS: readonly { value: string; label: string }[] = [
  { value: 'week', label: 'Uge' },
  { value: 'municipality', label: 'Kommune' },
  { value: 'district', label: 'Politikreds' },
];

const MONTHS = ['januar', 'februar', 'marts', 'april', 'maj', 'juni', 'juli', 'august', 'september', 'oktober', 'november', 'december'];

/** "2024-03" → "marts 2024". */
export function monthLabel(m: string): string {
  const match = /^(\d{4})-(\d{2})$/.exec(m);
  if (!match) return m;
  const name = MONTHS[Number(match[2]) - 1];
  return name ? `${name} ${match[1]}` : m;
}

/** "2024-W05" → "uge 5, 2024". */
export function weekLabel(w: string): string {
  const match = /^(\d{4})-W(\d{2})$/.exec(w);
  return match ? `uge ${Number(match[2])}, ${match[1]}` : w;
}

/** The label of a row's value in one dimension. */
export function dimensionValue(row: StatsRow, dim: string): string {
  switch (dim) {
    case 'month':
      return monthLabel(String(row.month ?? ''));
    case 'week':
      return weekLabel(String(row.week ?? ''));
    case 'offence':
      return offenceLabel(String(row.offence ?? '')) || 'Ikke angivet';
    case 'district':
      return String(row.districtName ?? row.districtId ?? 'Ukendt');
    case 'municipality': {
      const code = typeof row.kommunekode === 'number' ? row.kommunekode : 0;
      if (code === 0) return 'Ukendt kommune';
      return row.municipalityName ? `${String(row.municipalityName)} (${code})` : String(code);
    }
    default:
      return '';
  }
}

export function dimensionLabel(dim: string): string {
  return (
    [...REFERRAL_DIMENSIONS, ...UNDERRETNING_DIMENSIONS].find((d) => d.value === dim)?.label ?? dim
  );
}

/** What a table cell shows: the number, "<5" for a withheld count, "–" for a withheld rate or median. */
export function cellText(c: Cell, column: Column, minCell: number): string {
  if (c.kind === 'withheld') return column.kind === 'count' ? `<${minCell}` : '–';
  if (column.kind === 'rate') return formatPercent(c.value);
  return formatNumber(c.value);
}

export interface TableView {
  headers: string[]; // the dimensions' labels (or "Gruppe"), then the columns'
  labelColumns: number; // how many leading cells label the row (row headers)
  rows: { cells: string[]; withheld: boolean[]; total: boolean }[];
}

/** The rows (then the total) of a statistics answer as text cells. */
export function tableView(stats: StatsTable, columns: readonly Column[]): TableView {
  const dims = stats.groupBy ?? [];
  const minCell = stats.minCell || 5;
  const labelColumns = dims.length ? dims.map(dimensionLabel) : ['Gruppe'];
  const headers = [...labelColumns, ...columns.map((c) => c.label)];
  const rows: TableView['rows'] = [];
  const add = (row: StatsRow, total: boolean) => {
    const labels = total
      ? labelColumns.map((_, i) => (i === 0 ? 'I alt' : ''))
      : dims.map((d) => dimensionValue(row, d));
    const cells = columns.map((c) => cell(row, c.field));
    rows.push({
      cells: [...labels, ...cells.map((c, i) => cellText(c, columns[i]!, minCell))],
      withheld: [...labels.map(() => false), ...cells.map((c) => c.kind === 'withheld')],
      total,
    });
  };
  for (const r of stats.rows ?? []) add(r, false);
  if (stats.total) add(stats.total, true);
  return { headers, labelColumns: labelColumns.length, rows };
}

export interface ChartData {
  labels: string[];
  values: (number | null)[]; // null: withheld (the chart leaves a gap, the table says "<5")
  withheld: string[]; // the labels of the withheld steps
}

/** The funnel of one row (normally the total) for a bar chart. */
export function funnelChart(row: StatsRow | undefined): ChartData {
  const labels: string[] = [];
  const values: (number | null)[] = [];
  const withheld: string[] = [];
  for (const step of FUNNEL_STEPS) {
    labels.push(step.label);
    const c = row ? cell(row, step.field) : { kind: 'value' as const, value: 0 };
    values.push(c.kind === 'value' ? c.value : null);
    if (c.kind === 'withheld') withheld.push(step.label);
  }
  return { labels, values, withheld };
}

/** The query string of a statistics request ('' parts left out). */
export function statsQuery(p: { from?: string; to?: string; groupBy?: string[]; format?: 'csv'; dateBasis?: string }): string {
  const q = new URLSearchParams();
  if (p.from) q.set('from', p.from);
  if (p.to) q.set('to', p.to);
  if (p.groupBy && p.groupBy.length) q.set('groupBy', p.groupBy.join(','));
  if (p.dateBasis) q.set('dateBasis', p.dateBasis);
  if (p.format) q.set('format', p.format);
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * Statistics cover whole calendar months (docs/statistics.md: a window that
 * ends a day later could be subtracted from this one). The form asks for the
 * first and the last month included ("YYYY-MM"); the API's `from` is the first
 * day of the first month and its `to` the first day of the month after the last.
 */
export function monthStart(month: string): string {
  return /^\d{4}-\d{2}$/.test(month) ? `${month}-01` : month;
}

export function monthAfter(month: string): string {
  const match = /^(\d{4})-(\d{2})$/.exec(month);
  if (!match) return month;
  const d = new Date(Date.UTC(Number(match[1]), Number(match[2]), 1));
  return d.toISOString().slice(0, 10);
}
