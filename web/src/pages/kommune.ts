// The municipality: its underretninger from Socialsøg, those awaiting a
// kvittering first with the working days left, and the notice page with the
// kvittering, the response form and the response history
// (/kommune/underretning/<id>).

import { describeError } from "../api";
import { alertBox, h } from "../dom";
import type { Page } from "../router";
import { type UnderretningView, awaitingReceipt } from "../data/underretninger";
import { loadUnderretninger, renderUnderretning, underretningTable } from "../views/underretning";

async function renderList(main: HTMLElement): Promise<void> {
  main.append(
    h("h1", { tabindex: "-1" }, "Underretninger"),
    h("p", {}, "Underretninger fra politiets Socialsøg om børn i kommunen. Dem, der venter på kommunens kvittering, står først, med de arbejdsdage der er tilbage af fristen."),
  );
  let list: UnderretningView[];
  try {
    list = await loadUnderretninger();
  } catch (e) {
    main.append(alertBox("error", "Underretningerne kunne ikke hentes", describeError(e)));
    return;
  }
  const awaiting = list.filter(awaitingReceipt);
  const done = list.filter((u) => !awaitingReceipt(u));
  main.append(
    h("h2", {}, `Venter på kvittering (${awaiting.length})`),
    underretningTable(awaiting, "/kommune/underretning", "Underretninger, der venter på kvittering, den korteste frist først", "awaiting"),
    h("h2", {}, `Kvitteret (${done.length})`),
    underretningTable(done, "/kommune/underretning", "Kvitterede underretninger, nyeste først", "received"),
  );
}

const page: Page = {
  path: "/kommune",
  role: "municipality",
  title: "Underretninger",
  async render(main, ctx) {
    const [kind, id] = ctx.rest;
    if (kind === "underretning" && id) return renderUnderretning(main, id, "municipality", "/kommune");
    return renderList(main);
  },
};
export default page;
