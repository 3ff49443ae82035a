// Tables and description lists for the municipality's, coordinator's and
// evaluator's pages: dkfds tables whose cells carry data-title, so that on a
// phone (dkfds' table--responsive-headers) each row becomes a card with the
// column names; wide tables scroll in a focusable region instead.

import { h } from "../dom";

type Content = Node | string | null | undefined | (Node | string | null | undefined)[];

export interface ColumnSpec<T> {
  header: string;
  cell: (row: T) => Content;
  /** The cell names the row (a th scope=row). */
  rowHeader?: boolean;
  numeric?: boolean;
}

export interface TableOptions {
  /** Shown above the table and read as its name. */
  caption: string;
  /** What to say when there are no rows. */
  empty?: string;
  /** "cards": rows become cards on a phone; "scroll": the table scrolls sideways. */
  layout?: "cards" | "scroll";
  testid?: string;
}

function cellNode<T>(col: ColumnSpec<T>, row: T): HTMLTableCellElement {
  const content = col.cell(row);
  const attrs = { "data-title": col.header, class: col.numeric ? "numeric" : undefined };
  const list = Array.isArray(content) ? content : [content];
  return col.rowHeader ? h("th", { scope: "row", ...attrs }, list) : h("td", attrs, list);
}

/** A dkfds table of `rows`, or a paragraph saying it is empty. */
export function dataTable<T>(cols: ColumnSpec<T>[], rows: readonly T[], opts: TableOptions): HTMLElement {
  if (!rows.length) return h("p", { class: "empty-list", "data-testid": opts.testid }, opts.empty ?? "Ingen.");
  const layout = opts.layout ?? "cards";
  const table = h(
    "table",
    { class: `table table--compact${layout === "cards" ? " table--responsive-headers" : ""}`, "data-testid": opts.testid },
    h("caption", {}, opts.caption),
    h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col", class: c.numeric ? "numeric" : undefined }, c.header)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, cols.map((c) => cellNode(c, r))))),
  );
  if (layout === "cards") return table;
  return h("div", { class: "table--responsive-scroll", tabindex: "0", role: "region", "aria-label": opts.caption }, table);
}

/** A description list of label → value pairs (pairs with an empty value are left out). */
export function facts(pairs: [string, Content][], testid?: string): HTMLElement {
  const shown = pairs.filter(([, v]) => v !== "" && v !== null && v !== undefined && !(Array.isArray(v) && !v.length));
  return h(
    "dl",
    { class: "facts", "data-testid": testid },
    shown.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, Array.isArray(v) ? v : [v])]),
  );
}

/** A dkfds badge. */
export function badge(text: string, kind: "info" | "success" | "warning" | "error"): HTMLElement {
  return h("span", { class: `badge badge-${kind}` }, text);
}
