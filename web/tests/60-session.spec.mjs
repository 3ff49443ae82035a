// An expired session never loses what was typed: the call answers 401, the
// login shows over the page, and after logging in again the offer is sent.

export const name = "an expired session asks for the login again and keeps what was typed";

const rand = (n) => String(Math.floor(Math.random() * 10 ** n)).padStart(n, "0");

export async function run(t) {
  const officer = await t.login("betjent-mvj", "phone");
  const journalNumber = `4100-${rand(5)}-${rand(5)}-26`;
  await officer.getByLabel("Personens bopælskommune").selectOption("751");
  await officer.getByLabel("Journalnummer").fill(journalNumber);
  await officer.getByLabel("Narkokørsel").check();
  await officer.getByLabel("Nej", { exact: true }).check();
  await officer.context().clearCookies();
  await officer.getByRole("button", { name: "Registrér" }).click();
  await officer.getByRole("heading", { name: "Din session er udløbet" }).waitFor();
  await t.check(officer, "session-udloebet");
  await officer.getByLabel("Adgangskode").fill(process.env.HENVIS_DEV_PASSWORD ?? "henvis-dev");
  await officer.getByRole("button", { name: "Log ind" }).click();
  await officer.getByTestId("coverage").getByText("Nej er registreret").waitFor();
  t.expect(await officer.locator(".offer-item", { hasText: journalNumber }).count() === 1, "the offer is not in today's list once");
}
