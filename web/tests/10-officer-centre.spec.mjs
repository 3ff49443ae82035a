// The officer registers a yes for a Herning resident at the roadside (phone),
// the API's field errors show in Danish next to the field, a lost answer is
// retried with the same offer id (one offer, not two), and Herning's
// rusmiddelcenter sees the referral, acknowledges it and records a conversation.

export const name = "officer registers an offer; the centre acknowledges it and records a conversation";

const rand = (n) => String(Math.floor(Math.random() * 10 ** n)).padStart(n, "0");
const journal = () => `4100-${rand(5)}-${rand(5)}-26`;
// Born 1950-1998 (7th digit 0: the 1900s), so never after the charge.
const cpr = (ddmm) => `${ddmm}${50 + Math.floor(Math.random() * 49)}0${rand(3)}`;

async function fillYes(page, { journalNumber, cpr, name }) {
  await page.getByLabel("Personens bopælskommune").selectOption("657");
  await page.getByLabel("Journalnummer").fill(journalNumber);
  await page.getByLabel("Spirituskørsel").check();
  await page.getByLabel("Ja", { exact: true }).check();
  await page.getByLabel(/giver samtykke/).check();
  await page.getByLabel("CPR-nummer").fill(cpr);
  await page.getByLabel("Navn", { exact: true }).fill(name);
  await page.getByLabel("Telefon").fill("22334455");
}

export async function run(t) {
  const officer = await t.login("betjent-mvj", "phone");
  t.expect(new URL(officer.url()).pathname === "/betjent", `officer landed on ${officer.url()}, not /betjent`);
  await t.check(officer, "betjent");

  // A CPR number whose date does not exist passes the page's own check; intake's
  // 400 names person.cpr and the page shows it in Danish next to that field.
  const first = { journalNumber: journal(), cpr: `3213${rand(2)}${rand(4)}`, name: `Test Testesen ${rand(4)}` };
  await fillYes(officer, first);
  await officer.getByRole("button", { name: "Registrér" }).click();
  const cprGroup = officer.locator('.form-group[data-field="person.cpr"]');
  await cprGroup.locator(".form-error-message").waitFor();
  t.expect((await cprGroup.textContent()).includes("Skriv et gyldigt CPR-nummer"), "the CPR error is not shown in Danish next to the field");
  t.expect((await officer.getByLabel("Navn", { exact: true }).inputValue()) === first.name, "the typed name was lost after a 400");
  await t.check(officer, "betjent-fejl");

  // The answer is lost on the way back (the offer reached intake): the page
  // keeps the offer and resends the same id when the network returns.
  await officer.getByLabel("CPR-nummer").fill(cpr("0101"));
  let lost = false;
  await officer.route("**/api/intake/v1/offers", async (route) => {
    if (lost) return route.continue();
    lost = true;
    await route.fetch();
    await route.abort("internetdisconnected");
  });
  await officer.getByRole("button", { name: "Registrér" }).click();
  await officer.getByText("Gemt på telefonen").waitFor();
  t.expect(lost, "the offer was not sent");
  await officer.unroute("**/api/intake/v1/offers");
  await officer.evaluate(() => window.dispatchEvent(new Event("online")));
  const item = officer.locator(".offer-item", { hasText: first.journalNumber });
  await item.getByText("Herning Rusmiddelcenter kontakter personen.").waitFor();
  await t.check(officer, "betjent-dagens");

  // A second yes, online: the coverage answer shows plainly.
  const second = { journalNumber: journal(), cpr: cpr("0202"), name: `Anna Prøvesen ${rand(4)}` };
  await fillYes(officer, second);
  await officer.getByRole("button", { name: "Registrér" }).click();
  await officer.getByTestId("coverage").getByText("Herning Rusmiddelcenter kontakter personen.").waitFor();
  t.state.referral = second;

  // Herning's centre: exactly one referral for the retried offer.
  const centre = await t.login("center-657", "desktop");
  t.expect(new URL(centre.url()).pathname === "/center", `centre landed on ${centre.url()}, not /center`);
  const rows = async (q) => {
    await centre.goto(`${t.base}/center`);
    await centre.getByLabel(/Søg på navn/).fill(q);
    return centre.locator("tr[data-referral-id]").count();
  };
  await t.eventually(async () => (await rows(first.journalNumber)) >= 1, "the retried offer's referral in the worklist");
  t.expect((await rows(first.journalNumber)) === 1, "the retried offer made more than one referral");
  await t.eventually(async () => (await rows(second.name)) === 1, "the second referral in the worklist");
  await t.eventually(async () => {
    await rows(second.name);
    return (await centre.getByRole("button", { name: `Kvittér for ${second.name}` }).count()) === 1;
  }, "the new-referral notification to acknowledge");
  await centre.getByLabel(/Søg på navn/).fill("");
  await t.check(centre, "center");

  await centre.getByLabel(/Søg på navn/).fill(second.name);
  await centre.getByRole("button", { name: `Kvittér for ${second.name}` }).click();
  await centre.locator("tr[data-referral-id]").getByText("Kvitteret").waitFor();
  await centre.getByRole("link", { name: second.name }).click();
  await centre.getByRole("heading", { name: second.name, level: 1 }).waitFor();
  await t.check(centre, "center-henvisning");
  await centre.getByLabel("Note").fill("Samtale på centret.");
  await centre.getByRole("button", { name: "Samtale holdt" }).click();
  await centre.getByText("Registreret: Samtale holdt").waitFor();
  t.expect(await centre.locator("table.history").getByText("Samtale holdt").count() >= 1, "the history lacks the conversation");
  t.expect(await centre.getByRole("button", { name: "Kontakt forsøgt (intet svar)" }).count() === 0,
    "an outcome not allowed after a conversation is offered");
  t.state.referralId = new URL(centre.url()).pathname.split("/").pop();

  // The officer withdraws the first person's consent from today's list.
  officer.once("dialog", (d) => d.accept());
  await officer.locator(".offer-item", { hasText: first.journalNumber }).getByRole("button", { name: "Træk samtykke tilbage" }).click();
  await officer.getByText("Samtykket er trukket tilbage").first().waitFor();
  await officer.locator(".offer-item", { hasText: first.journalNumber }).getByText("Samtykke trukket tilbage").waitFor();
}
