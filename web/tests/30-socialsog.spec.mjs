// Socialsøg end to end in the browser: the police's incidents reach socialsog
// (henvisctl to the broker), the MVJ coordinator runs a scan for a period with
// the date pickers, Herning's municipality finds the underretning first in its
// list with the working days left, opens it, records the kvittering and a
// response, and the coordinator sees it received on time. A Holstebro child's
// underretning (Holstebro has no henvis account) goes to the coordinator, who
// records that it was forwarded by letter and when Holstebro received it.

import { api, cpr, day, importIncidents, incident, rand } from "./roles-seed.mjs";

export const name = "Socialsøg scan by the coordinator; the municipality records the kvittering; the coordinator sees it on time";

export async function run(t) {
  const adult = { cpr: cpr(1980), name: `Svend Testesen ${rand(4)}`, home: 657 };
  const child = { cpr: cpr(2015), name: `Lille Testesen ${rand(4)}`, home: 657 };
  const adult2 = { cpr: cpr(1982), name: `Bent Holstebrosen ${rand(4)}`, home: 661 };
  const child2 = { cpr: cpr(2016), name: `Lise Holstebrosen ${rand(4)}`, home: 661 };
  // An aggravated violence (severe: flags the child on its own) in Herning and
  // a violence between partners in Holstebro, both MVJ.
  importIncidents(t, [
    incident({ district: "mvj", location: 657, code: "PH-G-GROV-VOLD", daysAgo: 3, adult, child }),
    incident({ district: "mvj", location: 661, code: "PH-H-PARVOLD", daysAgo: 2, adult: adult2, child: child2 }),
  ]);

  // The coordinator scans the last 30 days (socialsog takes the incident in
  // asynchronously: scan again until it is found; nothing is sent twice).
  const coord = await t.login("koordinator-mvj", "desktop");
  t.expect(new URL(coord.url()).pathname === "/koordinator", `coordinator landed on ${coord.url()}`);
  await t.check(coord, "koordinator");
  await coord.getByLabel("Fra og med").fill(day(-30));
  await coord.getByLabel("Til og med").fill(day(0));
  await t.eventually(async () => {
    await coord.getByRole("button", { name: "Kør Socialsøg" }).click();
    await coord.getByText("Socialsøg er kørt").waitFor();
    const text = await coord.getByTestId("scan-result").textContent();
    return /Underretninger oprettet: [2-9]/.test(text);
  }, "a scan that finds both children and creates their underretninger");
  // The coordinator's scans are the rows with the picked period (the weekly
  // scan lists its own). A scan of an earlier click may still finish and
  // redraw the list, so wait for the rows rather than count them at once.
  const picked = `Hændelser sket ${day(-30).split("-").reverse().join(".")}`;
  const ourScans = coord.getByTestId("scans").locator("tbody tr").filter({ hasText: picked });
  await t.eventually(async () => (await ourScans.count()) >= 1, "the scan's period is not the one picked");
  const listed = (await api(t, coord, "GET", "/api/socialsog/v1/underretninger?limit=500")).json.underretninger ?? [];
  const idOf = (c) => listed.find((u) => (u.notice.children ?? []).some((x) => x.name === c.name))?.notice.underretningId;
  const id = idOf(child);
  const holstebro = idOf(child2);
  t.expect(id && holstebro, "the scan's underretninger are not the coordinator's");
  await t.eventually(async () => (await ourScans.getByRole("link", { name: id }).count()) === 1, "the scan does not link its underretning");
  await t.check(coord, "koordinator-socialsog");

  // Herning: the underretning awaits its kvittering with the working days left (6 full ones after today, and today).
  const kommune = await t.login("kommune-657", "phone");
  t.expect(new URL(kommune.url()).pathname === "/kommune", `municipality landed on ${kommune.url()}`);
  const row = kommune.getByTestId("awaiting").locator("tr", { hasText: id });
  await row.waitFor();
  t.expect(/[1-7] arbejdsdag/.test(await row.textContent()), `the working days left are not shown: ${await row.textContent()}`);
  await t.check(kommune, "kommune");

  await row.getByRole("link", { name: id }).click();
  await kommune.getByRole("heading", { name: `Underretning ${id}`, level: 1 }).waitFor();
  await kommune.getByTestId("children").getByText(child.name).waitFor();
  await kommune.getByTestId("adults").getByText(adult.name).waitFor();
  t.expect((await kommune.getByTestId("incidents").textContent()).includes("PH-G-GROV-VOLD"), "the incident's code is not listed");
  t.expect((await kommune.getByTestId("overview").textContent()).includes("placeholder-"), "the code-list version is not shown");
  await t.check(kommune, "kommune-underretning");

  // A date in the future is refused by socialsog; the error shows next to the field, in Danish.
  await kommune.getByLabel("Modtaget den").fill(day(2));
  await kommune.getByRole("button", { name: "Kvittér for modtagelse" }).click();
  await kommune.locator('.form-group[data-field="receivedAt"] .form-error-message', { hasText: "Må ikke ligge i fremtiden." }).waitFor();
  await t.check(kommune, "kommune-kvittering-fejl");
  await kommune.getByLabel("Modtaget den").fill("");
  await kommune.getByRole("button", { name: "Kvittér for modtagelse" }).click();
  await kommune.getByText("Kvitteringen er registreret.").waitFor();
  t.expect(await kommune.getByRole("button", { name: "Kvittér for modtagelse" }).count() === 0, "the kvittering button is still offered");

  await kommune.getByRole("button", { name: "Gem svar" }).click();
  await kommune.locator('.form-group[data-field="response"] .form-error-message', { hasText: "Vælg en af mulighederne." }).waitFor();
  await kommune.getByLabel("Børnefaglig undersøgelse iværksat").check();
  await kommune.getByLabel("Note").fill("Sagsbehandler tildelt.");
  await kommune.getByRole("button", { name: "Gem svar" }).click();
  await kommune.getByText("Svaret er registreret.").waitFor();
  await kommune.getByTestId("responses").getByText("Sagsbehandler tildelt.").waitFor();

  // The coordinator sees it received on time, in the district's list and on the notice page.
  await t.visit(coord, "/koordinator");
  const districtRow = coord.getByTestId("district-underretninger").locator("tr", { hasText: id });
  await districtRow.getByText(/kvitteret til tiden/i).waitFor();
  t.expect(await coord.getByTestId("escalations").locator("tr", { hasText: id }).count() === 0, "a receipt on time is still an escalation");
  await t.visit(coord, `/koordinator/underretning/${encodeURIComponent(id)}`, "koordinator-underretning");
  t.expect((await coord.getByTestId("overview").textContent()).includes("(til tiden)"), "the notice page does not say on time");
  t.expect(await coord.getByRole("button", { name: "Kvittér for modtagelse" }).count() === 0, "a coordinator is offered the municipality's kvittering");

  // Holstebro has no account: the coordinator forwards it by letter and records its receipt.
  await t.visit(coord, "/koordinator");
  await coord.getByTestId("escalations").locator("tr", { hasText: holstebro }).getByText("Skal videresendes").waitFor();
  await coord.getByTestId("escalations").getByRole("link", { name: holstebro }).click();
  await coord.getByRole("heading", { name: `Underretning ${holstebro}`, level: 1 }).waitFor();
  t.expect((await coord.getByTestId("overview").textContent()).includes("ingen adgang til henvis"), "the reason it came to the coordinator is not shown");
  await t.check(coord, "koordinator-videresendelse");
  await coord.getByLabel("Sendt som").selectOption("letter");
  await coord.getByTestId("forwarding-form").getByLabel("Note").fill("Sendt til Holstebro Kommunes børneteam.");
  await coord.getByRole("button", { name: "Registrér videresendelse" }).click();
  await coord.getByText("Videresendelsen er registreret.").waitFor();
  await coord.getByLabel("Modtaget den").fill(day(0));
  await coord.getByRole("button", { name: "Kvittér for modtagelse" }).click();
  await coord.getByText("Kvitteringen er registreret.").waitFor();
  t.expect((await coord.getByTestId("overview").textContent()).includes("brev"), "the forwarding's channel is not shown");
  await t.visit(coord, "/koordinator");
  t.expect(await coord.getByTestId("escalations").locator("tr", { hasText: holstebro }).count() === 0, "a forwarded and received underretning is still an escalation");

  // Another municipality cannot read it.
  const aarhus = await t.login("kommune-751", "desktop");
  await t.visit(aarhus, `/kommune/underretning/${encodeURIComponent(id)}`);
  await aarhus.getByText("Underretningen findes ikke, eller du har ikke adgang til den.").waitFor();
  t.state.underretningId = id;
}
