// The evaluator's chart counts conversations: five Herning residents say yes
// (intake API as the officer), Herning's centre records a conversation with
// each (router API), and the funnel chart and table on /evaluering count them
// once evaluation has the events (counts under 5 show "<5"). The CSV download
// is the API's CSV; the Socialsøg table is there too.

import { api, offerYes, rand, referrals } from "./roles-seed.mjs";

export const name = "the evaluator's funnel chart counts the conversations held";

/** "Samtale holdt: 12" from the chart's text alternative; null while withheld ("under 5"). */
async function conversations(page) {
  const label = await page.getByTestId("funnel-chart").getAttribute("aria-label");
  const m = /Samtale holdt: ([^,.]+)/.exec(label ?? "");
  if (!m) throw new Error(`no conversation count in the chart's label: ${label}`);
  return /^under/.test(m[1]) ? null : Number(m[1].replace(/\./g, ""));
}

export async function run(t) {
  const evaluator = await t.login("evaluator", "desktop");
  t.expect(new URL(evaluator.url()).pathname === "/evaluering", `evaluator landed on ${evaluator.url()}`);
  await evaluator.getByTestId("funnel-chart").waitFor();
  const before = await conversations(evaluator);

  const officer = await t.login("betjent-mvj", "desktop");
  const people = [];
  for (let i = 0; i < 5; i++) people.push(await offerYes(t, officer, 657, `Evaluering Testesen ${rand(5)}`));
  const centre = await t.login("center-657", "desktop");
  const journals = new Set(people.map((p) => p.journalNumber));
  const mine = await t.eventually(async () => {
    const list = (await referrals(t, centre)).filter((r) => journals.has(r.journalNumber));
    return list.length === people.length ? list : null;
  }, "the five referrals at Herning's centre");
  for (const r of mine) {
    const res = await api(t, centre, "POST", `/api/router/v1/referrals/${r.referralId}/outcomes`,
      { outcome: "REFERRAL_STATUS_CONVERSATION_HELD", note: "Samtale på centret." }, { "Idempotency-Key": crypto.randomUUID() });
    t.expect(res.status === 200, `recording a conversation answered ${res.status}: ${res.body}`);
  }

  const after = await t.eventually(async () => {
    await t.visit(evaluator, "/evaluering");
    const n = await conversations(evaluator);
    // Published counts carry a consistent -2..+2 noise (docs/statistics.md):
    // five more conversations make a withheld count shown, or a shown one
    // larger (before <= true + 2, after >= true + 5 - 2).
    return n !== null && n >= (before === null ? 1 : before + 1) ? n : null;
  }, "the chart counting five more conversations");
  t.log(`conversations in the chart: ${before ?? "<5"} → ${after}`);
  const table = evaluator.getByTestId("referral-stats");
  await table.locator("tr", { hasText: "Herning (657)" }).waitFor();
  await table.locator("tr.total-row", { hasText: "I alt" }).waitFor();
  await evaluator.getByTestId("underretning-stats").waitFor();
  await t.check(evaluator, "evaluering");

  // Grouped by month and offence: the period's rows, withheld cells as "<5".
  await evaluator.getByTestId("referral-filter").getByLabel("Kommune").uncheck();
  await evaluator.getByTestId("referral-filter").getByLabel("Måned").check();
  await evaluator.getByTestId("referral-filter").getByLabel("Overtrædelse").check();
  await evaluator.getByTestId("referral-filter").getByRole("button", { name: "Vis tal" }).click();
  await table.getByRole("columnheader", { name: "Overtrædelse" }).waitFor();
  await table.locator("tr", { hasText: "Spirituskørsel" }).first().waitFor();

  // The CSV link is the API's CSV for the same query.
  const href = await evaluator.getByRole("link", { name: "Hent som CSV" }).first().getAttribute("href");
  t.expect(/format=csv/.test(href) && /groupBy=month%2Coffence/.test(href), `the CSV link is ${href}`);
  const csv = await t.fetch(evaluator, href);
  t.expect(csv.status === 200 && csv.body.split("\n")[0].includes("conversationHeld"), `the CSV download answered ${csv.status}: ${csv.body.slice(0, 120)}`);

  // An evaluator has no personal data: the router refuses its session.
  const refused = await t.fetch(evaluator, "/api/router/v1/referrals");
  t.expect(refused.status === 403, `an evaluator listing referrals got ${refused.status}`);
}
