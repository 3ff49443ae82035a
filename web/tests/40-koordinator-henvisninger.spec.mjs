// The coordinator's unroutable referrals: two Aarhus residents said yes to an
// MVJ officer (Aarhus is not in the programme). The coordinator forwards one
// to Herning's centre (the form's own checks, then the router's 400 for a
// centre that is not one, in Danish next to the field, then success: Herning's
// centre sees it) and closes the other as a duplicate.

import { api, offerYes, rand, referrals } from "./roles-seed.mjs";

export const name = "coordinator forwards one unroutable referral to a centre and closes another";

export async function run(t) {
  const officer = await t.login("betjent-mvj", "desktop");
  const forwardMe = await offerYes(t, officer, 751, `Frede Videresendt ${rand(4)}`);
  const closeMe = await offerYes(t, officer, 751, `Karla Lukket ${rand(4)}`);

  const coord = await t.login("koordinator-mvj", "phone");
  const card = (p) => coord.getByTestId("unroutable").locator("section", { hasText: p.name });
  await t.eventually(async () => {
    await t.visit(coord, "/koordinator");
    return (await card(forwardMe).count()) === 1 && (await card(closeMe).count()) === 1;
  }, "both unroutable referrals on the coordinator's page");
  t.expect((await card(forwardMe).textContent()).includes("Aarhus"), "the card does not name the municipality");
  // Escalations come from the coordinator's inbox; nothing has waited long enough here.
  await coord.getByTestId("inbox-alerts").getByText("Ingen eskaleringer.").waitFor();

  // Forwarding: the page's checks first, then the router's.
  const fwd = card(forwardMe);
  await fwd.locator("summary", { hasText: "Send til et rusmiddelcenter" }).click();
  await fwd.getByRole("button", { name: "Send til centret" }).click();
  await fwd.locator('.form-group[data-field="centreId"] .form-error-message').waitFor();
  await fwd.locator('.form-group[data-field="note"] .form-error-message').waitFor();
  await fwd.getByLabel("Rusmiddelcenter").fill("rusmiddelcenter-751");
  await fwd.getByLabel("Begrundelse").fill("Flyttet til Herning; aftalt med centret.");
  await fwd.getByRole("button", { name: "Send til centret" }).click();
  await fwd.locator('.form-group[data-field="centreId"] .form-error-message', { hasText: "Vælg et rusmiddelcenter, der er med i ordningen i dag." }).waitFor();
  await t.check(coord, "koordinator-videresend-fejl");
  await fwd.getByLabel("Rusmiddelcenter").fill("rusmiddelcenter-657");
  await fwd.getByRole("button", { name: "Send til centret" }).click();
  await coord.getByText(/er sendt til rusmiddelcenter-657/).waitFor();
  t.expect(await card(forwardMe).count() === 0, "the forwarded referral is still listed as unroutable");

  // Closure as a duplicate.
  const cls = card(closeMe);
  await cls.locator("summary", { hasText: "Luk henvisningen" }).click();
  await cls.getByLabel("Årsag").selectOption("duplicate");
  await cls.getByRole("button", { name: "Luk henvisningen" }).click();
  await coord.getByText(/er lukket\./).waitFor();
  t.expect(await card(closeMe).count() === 0, "the closed referral is still listed");

  // Herning's centre has the forwarded one; the router recorded the closure.
  const centre = await t.login("center-657", "desktop");
  const mine = await t.eventually(async () => (await referrals(t, centre)).find((r) => r.journalNumber === forwardMe.journalNumber), "the forwarded referral at Herning's centre");
  t.expect(mine.status !== "REFERRAL_STATUS_UNROUTABLE", `the forwarded referral is ${mine.status}`);
  const closed = (await referrals(t, coord, "closed")).find((r) => r.journalNumber === closeMe.journalNumber);
  t.expect(closed, "the closed referral is not closed");
  const one = await api(t, coord, "GET", `/api/router/v1/referrals/${closed.referralId}`);
  t.expect(JSON.stringify(one.json.history ?? []).includes("duplicate"), "the closure's reason is not in the history");
}
