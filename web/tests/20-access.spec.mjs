// One role cannot open another role's pages or data: the page says no, and
// the service refuses the API call made with that person's session.

export const name = "a role cannot open another role's pages or data";

export async function run(t) {
  const anonymous = await t.newPage("phone");
  await anonymous.goto(`${t.base}/center`);
  await anonymous.waitForURL((u) => u.pathname === "/login");
  await t.check(anonymous, "login");

  const officer = await t.login("betjent-mvj", "phone");
  await t.visit(officer, "/center", "ingen-adgang");
  await officer.getByRole("heading", { name: "Ingen adgang" }).waitFor();
  const list = await t.fetch(officer, "/api/router/v1/referrals");
  t.expect(list.status === 403, `officer GET /api/router/v1/referrals answered ${list.status}, not 403`);
  if (t.state.referralId) {
    const one = await t.fetch(officer, `/api/router/v1/referrals/${t.state.referralId}`);
    t.expect(one.status === 403 || one.status === 404, `officer read a referral: ${one.status}`);
  }

  const centre = await t.login("center-661", "desktop");
  await t.visit(centre, "/betjent");
  await centre.getByRole("heading", { name: "Ingen adgang" }).waitFor();
  if (t.state.referralId) {
    // Holstebro's centre cannot read Herning's referral.
    const other = await t.fetch(centre, `/api/router/v1/referrals/${t.state.referralId}`);
    t.expect(other.status === 404 || other.status === 403, `another centre read the referral: ${other.status}`);
    await t.visit(centre, `/center/henvisning/${t.state.referralId}`);
    await centre.getByText("Henvisningen kunne ikke hentes").waitFor();
  }
  // With a valid CSRF token the call reaches intake, which refuses the centre's role.
  const { csrfToken } = JSON.parse((await t.fetch(centre, "/auth/session")).body);
  const offer = await t.fetch(centre, "/api/intake/v1/offers", {
    method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken }, body: "{}" });
  t.expect(offer.status === 403, `a centre posting an offer got ${offer.status}, not 403`);
  const noCsrf = await t.fetch(centre, "/api/intake/v1/offers", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
  t.expect(noCsrf.status === 403, `a POST without the CSRF token got ${noCsrf.status}, not 403`);
}
