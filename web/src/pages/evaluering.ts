// The evaluator: the referral funnel as a chart (Chart.js) and a table per
// period, municipality, offence or district; Socialsøg's underretninger per
// week, municipality or district. Withheld cells (disclosure control, see
// docs/statistics.md) show "<5", rates as percentages; each table can be
// downloaded as the API's CSV.

import { BarController, BarElement, CategoryScale, Chart, LinearScale, Tooltip } from "chart.js";
import { ApiError, call, describeError } from "../api";
import { alertBox, clear, h, uid } from "../dom";
import { bindForm, danishReason, selectField, textField } from "../form";
import { formatNumber } from "../format";
import type { Page } from "../router";
import {
  REFERRAL_COLUMNS,
  REFERRAL_DIMENSIONS,
  type StatsTable,
  UNDERRETNING_COLUMNS,
  UNDERRETNING_DIMENSIONS,
  type TableView,
  monthAfter,
  monthStart,
  funnelChart,
  statsQuery,
  tableView,
} from "../data/stats";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip);

interface Filter {
  from: string; // YYYY-MM, the first month, or ""
  last: string; // YYYY-MM, the last month included, or ""
  groupBy: string[];
  dateBasis?: string;
}

function query(f: Filter, format?: "csv"): string {
  return statsQuery({ from: f.from ? monthStart(f.from) : "", to: f.last ? monthAfter(f.last) : "", groupBy: f.groupBy, dateBasis: f.dateBasis, format });
}

function periodText(f: Filter): string {
  const day = (m: string) =>
    new Intl.DateTimeFormat("da-DK", { month: "long", year: "numeric", timeZone: "UTC" }).format(new Date(`${m}-15T12:00:00Z`));
  if (f.from && f.last) return `${day(f.from)}–${day(f.last)}`;
  if (f.from) return `fra ${day(f.from)}`;
  if (f.last) return `til og med ${day(f.last)}`;
  return "hele perioden";
}

/** The table as dkfds markup: label cells as row headers, withheld cells marked for the legend. */
function statsTable(view: TableView, caption: string, testid: string): HTMLElement {
  const table = h(
    "table",
    { class: "table table--compact table--zebra stats-table", "data-testid": testid },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, view.headers.map((t, i) => h("th", { scope: "col", class: i >= view.labelColumns ? "numeric" : undefined }, t)))),
    h(
      "tbody",
      {},
      view.rows.map((r) =>
        h(
          "tr",
          { class: r.total ? "total-row" : undefined },
          r.cells.map((c, i) =>
            i < view.labelColumns
              ? h("th", { scope: "row" }, c)
              : h("td", { class: r.withheld[i] ? "numeric withheld" : "numeric", title: r.withheld[i] ? "Skjult af hensyn til diskretion" : undefined }, c),
          ),
        ),
      ),
    ),
  );
  return h("div", { class: "table--responsive-scroll", tabindex: "0", role: "region", "aria-label": caption }, table);
}

function legend(minCell: number, rates: string): HTMLElement {
  return h(
    "p",
    { class: "form-hint" },
    `<${minCell}: færre end ${minCell}, eller skjult så en anden lille celle ikke kan regnes ud. `,
    `–: vises ikke, fordi tallet bygger på for få. ${rates}`,
  );
}

function csvLink(path: string, filename: string, label: string): HTMLElement {
  return h("a", { href: path, download: filename, class: "button button-secondary csv-link" }, label);
}

let funnel: Chart | null = null;

/** The funnel chart's figure; Chart.js measures its box, so draw() once the figure is in the page. */
function funnelFigure(stats: StatsTable): { figure: HTMLElement; draw: () => void } {
  const data = funnelChart(stats.total);
  const spoken = data.labels.map((l, i) => `${l}: ${data.values[i] === null ? `under ${stats.minCell || 5}` : formatNumber(data.values[i]!)}`).join(", ");
  const canvas = h("canvas", { role: "img", "aria-label": `Tragten, ${spoken}.`, "data-testid": "funnel-chart" });
  const figure = h(
    "figure",
    { class: "funnel" },
    h("div", { class: "chart-box" }, canvas),
    h("figcaption", {}, "Tragten for den valgte periode: fra tilbud til flere samtaler (antal personer).", data.withheld.length ? ` Skjult (under ${stats.minCell || 5}): ${data.withheld.join(", ")}.` : ""),
  );
  const draw = (): void => {
    funnel?.destroy();
    funnel = new Chart(canvas, {
      type: "bar",
      data: { labels: data.labels, datasets: [{ label: "Personer", data: data.values, backgroundColor: "#0059b3" }] },
      options: {
        indexAxis: "y",
        animation: false,
        maintainAspectRatio: false,
        plugins: { legend: { display: false }, tooltip: { enabled: true } },
        scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
      },
    });
  };
  return { figure, draw };
}

/** What went wrong, in Danish: a refused query (too many rows) says what to change. */
function statsError(e: unknown): string {
  if (e instanceof ApiError && e.kind === "invalid" && e.fieldErrors.length > 0)
    return e.fieldErrors.map((fe) => danishReason(fe.reason)).join(" ");
  return describeError(e);
}

async function referralSection(host: HTMLElement, f: Filter): Promise<void> {
  clear(host);
  try {
    const stats = await call<StatsTable>("evaluation", `/v1/stats/referrals${query(f)}`);
    const chart = funnelFigure(stats);
    host.append(
      h("p", {}, `Personer sigtet ${periodText(f)} (efter sigtelsesdato).`),
      chart.figure,
      statsTable(tableView(stats, REFERRAL_COLUMNS), "Tragten pr. gruppe", "referral-stats"),
      legend(stats.minCell || 5, "Andele er af dem, der sagde ja."),
      csvLink(`/api/evaluation/v1/stats/referrals${query(f, "csv")}`, "henvisninger.csv", "Hent som CSV"),
    );
    chart.draw();
  } catch (e) {
    host.append(alertBox("error", "Tallene kunne ikke hentes", statsError(e)));
  }
}

async function underretningSection(host: HTMLElement, f: Filter): Promise<void> {
  clear(host);
  try {
    const stats = await call<StatsTable>("evaluation", `/v1/stats/underretninger${query(f)}`);
    const basis = f.dateBasis === "incident" ? "efter den tidligste hændelses dato" : "efter den dato, underretningen blev sendt";
    host.append(
      h("p", {}, `Underretninger ${periodText(f)} (${basis}).`),
      statsTable(tableView(stats, UNDERRETNING_COLUMNS), "Underretninger pr. gruppe", "underretning-stats"),
      legend(stats.minCell || 5, "Andelen til tiden er af de kvitterede og de overskredne; de andre andele er af børnene."),
      csvLink(`/api/evaluation/v1/stats/underretninger${query(f, "csv")}`, "underretninger.csv", "Hent som CSV"),
    );
  } catch (e) {
    host.append(alertBox("error", "Tallene kunne ikke hentes", statsError(e)));
  }
}

function checkboxes(name: string, legendText: string, options: readonly { value: string; label: string }[], checked: string[]): HTMLElement {
  const base = uid(name);
  return h(
    "div",
    { class: "form-group", "data-field": name },
    h(
      "fieldset",
      {},
      h("legend", { class: "form-label" }, legendText),
      options.map((o, i) =>
        h(
          "div",
          { class: "form-group-checkbox" },
          h("input", { class: "form-checkbox", type: "checkbox", id: `${base}-${i}`, name, value: o.value, checked: checked.includes(o.value) }),
          h("label", { for: `${base}-${i}` }, o.label),
        ),
      ),
    ),
  );
}

/** A filter form; `show` gets the filter each time it is submitted (and once at the start). */
function filterForm(id: string, dims: readonly { value: string; label: string }[], initial: string[], extra: HTMLElement[], show: (f: Filter) => void): HTMLElement {
  const form = h(
    "form",
    { novalidate: true, class: "stats-filter", "data-testid": `${id}-filter` },
    h("div", { class: "date-range" }, textField({ name: "from", label: "Fra og med", type: "month" }), textField({ name: "last", label: "Til og med", type: "month" })),
    checkboxes("groupBy", "Opdel efter", dims, initial),
    extra,
    h("button", { type: "submit", class: "button button-primary" }, "Vis tal"),
  );
  const bound = bindForm(form, { fieldMap: { to: "last" } });
  const read = (): Filter | null => {
    const v = bound.values();
    const groupBy = Array.from(form.querySelectorAll<HTMLInputElement>("input[name=groupBy]:checked")).map((c) => c.value);
    const f: Filter = { from: v.from ?? "", last: v.last ?? "", groupBy, dateBasis: v.dateBasis || undefined };
    if (f.from && f.last && f.last < f.from) {
      bound.showErrors([{ field: "last", reason: "must be after from" }]);
      return null;
    }
    return f;
  };
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    bound.clearErrors();
    const f = read();
    if (f) show(f);
  });
  return form;
}

async function render(main: HTMLElement): Promise<void> {
  const referrals = h("div", { "aria-live": "polite" });
  const underretninger = h("div", { "aria-live": "polite" });
  const basis = selectField({
    name: "dateBasis",
    label: "Dato",
    options: [
      ["notice", "Datoen underretningen blev sendt"],
      ["incident", "Datoen for den tidligste hændelse"],
    ],
  });
  main.append(
    h("h1", { tabindex: "-1" }, "Evaluering"),
    h("p", {}, "Tal uden personoplysninger. Små tal skjules, så ingen kan genkendes."),
    h("section", { class: "page-section", "aria-labelledby": "henvisninger" },
      h("h2", { id: "henvisninger" }, "Henvisninger"),
      filterForm("referral", REFERRAL_DIMENSIONS, ["municipality"], [], (f) => void referralSection(referrals, f)),
      referrals),
    h("section", { class: "page-section", "aria-labelledby": "socialsog" },
      h("h2", { id: "socialsog" }, "Socialsøg"),
      filterForm("underretning", UNDERRETNING_DIMENSIONS, ["municipality"], [basis], (f) => void underretningSection(underretninger, f)),
      underretninger),
  );
  await Promise.all([
    referralSection(referrals, { from: "", last: "", groupBy: ["municipality"] }),
    underretningSection(underretninger, { from: "", last: "", groupBy: ["municipality"] }),
  ]);
}

const page: Page = {
  path: "/evaluering",
  role: "evaluator",
  title: "Evaluering",
  render: (main) => render(main),
};
export default page;
