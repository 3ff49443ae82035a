// Unit tests of the municipality's, coordinator's and evaluator's data shaping
// (web/src/data/*.ts), without a browser (tests/unit/bundle.mjs loads them).
//   node --test web/tests/unit/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from './bundle.mjs';

const u = await load('data/underretninger');
const s = await load('data/stats');
const c = await load('data/coordinator');

const view = (id, status, { notice = {}, ...rest } = {}) => ({
  notice: { underretningId: id, createdAt: '2026-01-05T08:00:00Z', receiptDueAt: '2026-01-14T23:00:00Z', ...notice },
  status,
  ...rest,
});

test('underretninger awaiting a receipt come first, fewest working days left first, received ones newest first', () => {
  const list = [
    view('r-old', 'received', { receiptAt: '2026-01-06T10:00:00Z' }),
    view('p-4', 'pending', { workingDaysLeft: 4 }),
    view('r-new', 'responded', { receiptAt: '2026-01-08T10:00:00Z' }),
    view('o-0', 'overdue'), // proto3 JSON leaves a 0 out
    view('p-1', 'pending', { workingDaysLeft: 1 }),
    view('coord', 'pending', { notice: { receiptDueAt: undefined, reason: 'municipality_not_configured' } }),
    view('o-neg', 'overdue', { workingDaysLeft: -3 }),
  ];
  assert.deepEqual(
    u.sortUnderretninger(list).map((x) => x.notice.underretningId),
    ['o-neg', 'o-0', 'p-1', 'p-4', 'coord', 'r-new', 'r-old'],
  );
});

test('the receipt clock reads an absent workingDaysLeft as 0 and an underretning without a deadline as no clock', () => {
  assert.deepEqual(u.receiptClock(view('a', 'overdue')), {
    kind: 'awaiting', workingDaysLeft: 0, overdue: true, dueAt: '2026-01-14T23:00:00Z',
  });
  assert.equal(u.receiptClock(view('b', 'pending', { notice: { receiptDueAt: undefined } })).kind, 'no-clock');
  assert.equal(u.receiptClock(view('c', 'received', { receiptAt: '2026-01-10T09:00:00Z' })).onTime, true);
  assert.equal(u.receiptClock(view('d', 'received', { receiptAt: '2026-01-20T09:00:00Z', receiptMissed: true })).onTime, false);
});

test('working days left in Danish: the last day, and 0 or fewer as overdue', () => {
  assert.equal(u.workingDaysText(3), '3 arbejdsdage tilbage');
  assert.equal(u.workingDaysText(1), '1 arbejdsdag tilbage (sidste dag)');
  assert.equal(u.workingDaysText(0), 'Fristen er overskredet');
  assert.equal(u.workingDaysText(-2), 'Fristen er overskredet');
});

test('a second page merged into the first shows an underretning seen twice once', () => {
  const merged = u.mergePages([view('a', 'pending', { workingDaysLeft: 2 })], [view('a', 'received', { receiptAt: '2026-01-07T00:00:00Z' }), view('b', 'pending', { workingDaysLeft: 5 })]);
  assert.deepEqual(merged.map((x) => [x.notice.underretningId, x.status]), [['b', 'pending'], ['a', 'received']]);
});

test('the coordinator escalations are the overdue ones and those sent to it not yet forwarded or received', () => {
  const list = [
    view('ok', 'pending', { workingDaysLeft: 3 }),
    view('late', 'overdue', { workingDaysLeft: -1 }),
    view('coord', 'pending', { notice: { receiptDueAt: undefined, reason: 'municipality_unknown' } }),
    view('fwd', 'pending', { notice: { receiptDueAt: undefined, reason: 'municipality_unknown' }, forwarding: { channel: 'letter' } }),
  ];
  assert.deepEqual(u.escalations(list).map((x) => x.notice.underretningId), ['late', 'coord']);
});

test('a stats cell is a withheld one when named in suppressed, else its number with an absent value as 0', () => {
  const row = { offered: 12, suppressed: ['declined', 'conversationHeldRate'] };
  assert.deepEqual(s.cell(row, 'offered'), { kind: 'value', value: 12 });
  assert.deepEqual(s.cell(row, 'accepted'), { kind: 'value', value: 0 });
  assert.deepEqual(s.cell(row, 'declined'), { kind: 'withheld' });
});

test('the table shows withheld counts as "<5", withheld rates as "–" and rates as Danish percentages', () => {
  const stats = {
    groupBy: ['municipality'],
    minCell: 5,
    rows: [{ kommunekode: 657, municipalityName: 'Herning', offered: 20, accepted: 18, conversationHeld: 9, conversationHeldRate: 0.5, suppressed: ['declined'] }],
    total: { total: true, offered: 23, accepted: 18, suppressed: ['declined', 'conversationHeldRate'] },
  };
  const cols = s.REFERRAL_COLUMNS.filter((x) => ['offered', 'declined', 'conversationHeldRate'].includes(x.field));
  const t = s.tableView(stats, cols);
  assert.deepEqual(t.headers, ['Kommune', 'Tilbudt', 'Sagde nej', 'Samtale holdt, andel']);
  assert.equal(t.labelColumns, 1);
  assert.deepEqual(t.rows[0].cells.map((x) => x.replace(/\u00a0/g, ' ')), ['Herning (657)', '20', '<5', '50 %']);
  assert.deepEqual(t.rows[1].cells, ['I alt', '23', '<5', '–']);
  assert.deepEqual(t.rows[1].withheld, [false, false, true, true]);
  assert.equal(t.rows[1].total, true);
});

test('a table without grouping has one row, the total, labelled "I alt"', () => {
  const t = s.tableView({ minCell: 5, total: { total: true, offered: 7 } }, s.REFERRAL_COLUMNS.slice(0, 1));
  assert.deepEqual(t.headers, ['Gruppe', 'Tilbudt']);
  assert.deepEqual(t.rows.map((r) => r.cells), [['I alt', '7']]);
});

test('the funnel chart leaves a gap (null) for a withheld step and names it', () => {
  const f = s.funnelChart({ offered: 30, accepted: 20, routed: 15, delivered: 15, contactAttempted: 12, suppressed: ['conversationHeld', 'furtherSessionsAccepted'] });
  assert.deepEqual(f.values, [30, 20, 15, 15, 12, null, null]);
  assert.deepEqual(f.withheld, ['Samtale holdt', 'Flere samtaler']);
});

test('group labels: months and ISO weeks in Danish, offences by name, municipality 0 as unknown', () => {
  assert.equal(s.dimensionValue({ month: '2024-03' }, 'month'), 'marts 2024');
  assert.equal(s.dimensionValue({ week: '2024-W05' }, 'week'), 'uge 5, 2024');
  assert.equal(s.dimensionValue({ offence: 'OFFENCE_BOTH' }, 'offence'), 'Spiritus- og narkokørsel');
  assert.equal(s.dimensionValue({}, 'municipality'), 'Ukendt kommune');
  assert.equal(s.dimensionValue({ districtId: 'mvj', districtName: 'Midt- og Vestjyllands Politi' }, 'district'), 'Midt- og Vestjyllands Politi');
});

test('the stats query: "to" as the day after the last day chosen, groupBy joined, CSV asked for', () => {
  assert.equal(s.monthStart('2024-12'), '2024-12-01');
  assert.equal(s.monthAfter('2024-12'), '2025-01-01');
  assert.equal(s.monthAfter('2024-02'), '2024-03-01');
  assert.equal(s.statsQuery({ from: '2024-01-01', to: '2025-01-01', groupBy: ['month', 'offence'], format: 'csv' }),
    '?from=2024-01-01&to=2025-01-01&groupBy=month%2Coffence&format=csv');
  assert.equal(s.statsQuery({}), '');
});

test('a scan request: no dates is the weekly window, both dates a window, one date or a reversed pair are field errors', () => {
  assert.deepEqual(c.scanRequest('', ''), { body: {} });
  assert.deepEqual(c.scanRequest('2026-01-01', '2026-01-31'), { body: { from: '2026-01-01', to: '2026-01-31' } });
  assert.deepEqual(c.scanRequest('2026-01-01', '').errors.map((e) => e.field), ['to']);
  assert.deepEqual(c.scanRequest('2026-02-01', '2026-01-31').errors.map((e) => e.field), ['to']);
});

test('a scan lists every count, zeros included, and its window with the exclusive end shown as the last day', () => {
  const scan = { windowBasis: 'occurred', windowFrom: '2025-12-31T23:00:00Z', windowTo: '2026-01-31T23:00:00Z', childrenFlagged: 2 };
  assert.deepEqual(c.scanCounts(scan).map((x) => x.value), [0, 0, 2, 0, 0, 0]);
  const day = (iso) => new Intl.DateTimeFormat('da-DK', { timeZone: 'Europe/Copenhagen', day: '2-digit', month: '2-digit', year: 'numeric' }).format(new Date(iso));
  assert.equal(c.scanWindowText(scan, day), 'Hændelser sket 01.01.2026–31.01.2026');
  assert.match(c.scanWindowText({ windowBasis: 'received', receivedAfterSeq: '10', receivedUpToSeq: '42' }, day), /nr\. 11–42/);
  assert.match(c.scanWindowText({ windowBasis: 'received' }, day), /ingen nye/);
});

test('closure needs a known reason and a note for "other"; forwarding needs a centre and a note', () => {
  assert.deepEqual(c.closureErrors('duplicate', ''), []);
  assert.deepEqual(c.closureErrors('other', ' ').map((e) => e.field), ['note']);
  assert.deepEqual(c.closureErrors('', '').map((e) => e.field), ['reason']);
  assert.deepEqual(c.forwardingErrors('', '').map((e) => e.field), ['centreId', 'note']);
  assert.deepEqual(c.forwardingErrors('rusmiddelcenter-657', 'x'.repeat(501)).map((e) => e.field), ['note']);
});

test('an idempotency key is kept per action and referral until forgotten', () => {
  const m = new Map();
  const store = { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => m.set(k, v), removeItem: (k) => m.delete(k) };
  const k1 = c.idempotencyKey(store, 'forward', 'ref-1');
  assert.equal(c.idempotencyKey(store, 'forward', 'ref-1'), k1);
  assert.notEqual(c.idempotencyKey(store, 'close', 'ref-1'), k1);
  c.forgetIdempotencyKey(store, 'forward', 'ref-1');
  assert.notEqual(c.idempotencyKey(store, 'forward', 'ref-1'), k1);
});

test('the inbox alerts are the unacknowledged escalations and missed receipts, not new or unroutable referrals', () => {
  const entries = [
    { notificationId: 'a', kind: 'NOTIFICATION_KIND_ESCALATION' },
    { notificationId: 'b', kind: 'NOTIFICATION_KIND_UNROUTABLE_REFERRAL' },
    { notificationId: 'c', kind: 'NOTIFICATION_KIND_RECEIPT_MISSED' },
    { notificationId: 'd', kind: 'NOTIFICATION_KIND_ESCALATION', acknowledgedAt: '2026-01-05T10:00:00Z' },
    { notificationId: 'e', kind: 'NOTIFICATION_KIND_UNDERRETNING' },
  ];
  assert.deepEqual(c.inboxAlerts(entries).map((e) => e.notificationId), ['a', 'c']);
});
