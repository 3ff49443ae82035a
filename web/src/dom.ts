// Building the DOM without innerHTML: every text goes in as a text node, so a
// name or a note can never become markup.

type Attrs = Record<string, string | number | boolean | undefined | null>;
type Child = Node | string | number | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = String(v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: (Child | Child[])[]): void {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

let idCounter = 0;
/** A unique element id with a readable prefix. */
export function uid(prefix: string): string {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/** A dkfds alert (role=alert for errors so screen readers announce it). */
export function alertBox(kind: "error" | "success" | "warning" | "info", heading: string, text?: Child | Child[]): HTMLElement {
  return h(
    "div",
    { class: `alert alert-${kind}`, role: kind === "error" ? "alert" : "status" },
    h("div", { class: "alert-body" }, h("p", { class: "alert-heading" }, heading), text ? h("div", { class: "alert-text" }, text) : null),
  );
}

export function button(label: string, onClick: (ev: MouseEvent) => void, kind = "button-primary", attrs: Attrs = {}): HTMLButtonElement {
  const b = h("button", { type: "button", class: `button ${kind}`, ...attrs }, label);
  b.addEventListener("click", onClick);
  return b;
}
