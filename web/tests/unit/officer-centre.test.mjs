// Unit tests of the officer's and the centre's logic (web/src/{format,workdays,
// referrals,offers,form}.ts) without a browser: esbuild bundles each module to a
// temporary ES module that node's test runner imports.
//   node --test web/tests/unit/
import { test } from "node:test";
import assert from "node:assert/strict";
import { load } from "./bundle.mjs";

const f = await load("format");
const w = await load("workdays");
const r = await load("referrals");
const o = await load("offers");
const form = await load("form");

test("dates print as dd.mm.yyyy and times as HH:MM in Copenhagen, summer and winter", () => {
  assert.equal(f.formatDate("2026-01-15T23:30:00Z"), "16.01.2026");
  assert.equal(f.formatTime("2026-01-15T21:40:00Z"), "22:40");
  assert.equal(f.formatDateTime("2026-07-01T10:05:00Z"), "01.07.2026 12:05");
  assert.equal(f.formatDate(undefined), "");
});

test("a Copenhagen wall-clock time from the form is the right instant across DST", () => {
  assert.equal(f.fromLocalInput("2026-01-15T22:40"), "2026-01-15T21:40:00.000Z");
  assert.equal(f.fromLocalInput("2026-07-01T12:05"), "2026-07-01T10:05:00.000Z");
  assert.equal(f.toLocalInput("2026-07-01T10:05:00Z"), "2026-07-01T12:05");
  assert.equal(f.fromLocalInput("nonsense"), null);
});

test("working days skip weekends and Danish holidays, store bededag only up to 2023", () => {
  assert.equal(w.isWorkingDay("2026-04-03"), false); // langfredag
  assert.equal(w.isWorkingDay("2026-04-06"), false); // 2. påskedag
  assert.equal(w.isWorkingDay("2023-05-05"), false); // store bededag 2023
  assert.equal(w.isWorkingDay("2024-04-26"), true); // abolished from 2024
  assert.equal(w.addWorkingDays("2026-04-01", 2), "2026-04-08"); // skærtorsdag to 2. påskedag off
  assert.equal(w.workingDaysBetween("2026-11-27", "2026-12-01"), 2); // Fri → Tue
  assert.equal(w.workingDaysBetween("2026-12-01", "2026-11-27"), -2);
});

test("the worklist puts open referrals first, nearest deadline first", () => {
  const mk = (id, status, createdAt) => ({ referralId: id, status: `REFERRAL_STATUS_${status}`, createdAt });
  const list = [mk("closed", "CLOSED", "2026-11-01T10:00:00Z"), mk("late", "DELIVERED", "2026-11-20T10:00:00Z"),
    mk("new", "ROUTED", "2026-11-30T10:00:00Z"), mk("held", "CONVERSATION_HELD", "2026-11-02T10:00:00Z")];
  assert.deepEqual(list.sort(r.worklistOrder).map((x) => x.referralId), ["late", "new", "held", "closed"]);
  const d = r.deadline(mk("x", "ACKNOWLEDGED", "2026-11-27T10:00:00Z"), "2026-11-30");
  assert.deepEqual(d, { day: "2026-12-01", left: 1 });
  assert.equal(r.deadlineText({ day: "2026-11-25", left: -3 }), "Overskredet (3 arbejdsdage)");
});

test("the deadline restarts at the newest history entry", () => {
  const ref = { referralId: "a", status: "REFERRAL_STATUS_CONTACT_ATTEMPTED", createdAt: "2026-11-02T10:00:00Z",
    history: [{ at: "2026-11-02T10:00:00Z" }, { at: "2026-11-27T09:00:00Z" }] };
  assert.equal(r.deadline(ref, "2026-11-30").day, "2026-12-01");
});

test("only the lifecycle's allowed outcomes are offered", () => {
  assert.deepEqual(r.ALLOWED.REFERRAL_STATUS_REACHED, ["REFERRAL_STATUS_CONVERSATION_HELD", "REFERRAL_STATUS_DECLINED", "REFERRAL_STATUS_CLOSED"]);
  assert.equal(r.ALLOWED.REFERRAL_STATUS_CLOSED, undefined);
  assert.equal(r.ALLOWED.REFERRAL_STATUS_UNROUTABLE, undefined);
});

test("search finds a referral by name, CPR with or without hyphen, or journal number", () => {
  const ref = { referralId: "a", journalNumber: "4100-84123-00042-26", person: { name: "Test Testesen", cpr: "0101901234" } };
  assert.ok(r.matches(ref, "testes"));
  assert.ok(r.matches(ref, "010190-1234"));
  assert.ok(r.matches(ref, "84123"));
  assert.ok(!r.matches(ref, "Hansen"));
});

test("the CSV is semicolon-separated with a BOM and defuses formula cells", () => {
  const csv = r.referralsCsv([{ referralId: "a", person: { name: "=HYPERLINK(1)" }, journalNumber: "x;y" }], () => "Ny", () => "");
  assert.ok(csv.startsWith("\ufeffhenvisning;journalnummer"));
  assert.ok(csv.includes(`"x;y"`));
  assert.ok(csv.includes("'=HYPERLINK(1)"));
});

test("the coverage answer is plain Danish", () => {
  assert.equal(o.coverageSentence({ answer: "ANSWER_YES", covered: true, municipalityName: "Herning" }), "Herning Rusmiddelcenter kontakter personen.");
  assert.equal(o.coverageSentence({ answer: "ANSWER_YES", covered: false, municipalityName: "Aarhus" }), "Aarhus er ikke med: koordinatoren får besked.");
  assert.equal(o.coverageSentence({ answer: "ANSWER_NO" }), "Nej er registreret (uden personoplysninger).");
});

test("an offer the page would queue is checked as intake checks it", () => {
  const ok = { offerId: "x", journalNumber: "4100-84123-00042-26", offence: "OFFENCE_DRUNK", chargedAt: new Date().toISOString(),
    officerId: "mvj-1", answer: "ANSWER_YES", kommunekode: 657, person: { cpr: "010190-1234", name: "A", phone: "22334455" },
    consent: { textVersion: "v1", givenAt: new Date().toISOString() } };
  assert.deepEqual(o.checkOffer(ok), []);
  const bad = { ...ok, journalNumber: "4100", kommunekode: -1, person: { cpr: "12", name: "", phone: "" }, consent: undefined };
  assert.deepEqual(o.checkOffer(bad).map((e) => e.field), ["journalNumber", "kommunekode", "person.cpr", "person.name", "person.phone", "consent"]);
  assert.deepEqual(o.checkOffer({ ...ok, answer: "ANSWER_NO", person: undefined, consent: undefined }), []);
});

test("the API's reasons read as Danish sentences, never the English text", () => {
  assert.equal(form.danishReason("CPR number's first six digits must be an existing date (DDMMYY, century from the 7th digit)"), "Skriv et gyldigt CPR-nummer: DDMMÅÅ-SSSS.");
  assert.equal(form.danishReason("journal number must be 19 characters: NNNN-NNNNN-NNNNN-YY"), "Skriv journalnummeret som NNNN-NNNNN-NNNNN-ÅÅ.");
  assert.equal(form.danishReason("must not be in the future"), "Må ikke ligge i fremtiden.");
  assert.equal(form.danishReason("at most 500 characters"), "Højst 500 tegn.");
  assert.equal(form.danishReason("required: at most 200 characters"), "Skal udfyldes (højst 200 tegn).");
  // The evaluation's row cap (services/evaluation/evaluation.cpp check_rows).
  assert.equal(
    form.danishReason("the answer would have more than 5000 rows: group by fewer dimensions or ask for fewer months (from, to)"),
    "Svaret ville få mere end 5.000 rækker. Opdel efter færre ting, eller vælg færre måneder.",
  );
  assert.equal(form.danishReason("something new"), "Feltet er ikke udfyldt korrekt.");
});
