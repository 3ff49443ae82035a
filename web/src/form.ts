// Forms: dkfds form groups, the API's problem+json field errors shown next to
// their field in Danish, and what was typed kept in sessionStorage (a lost
// network, a 409, a 429 or an expired session never loses it).

import { ApiError, type FieldError, describeError } from "./api";
import { alertBox, clear, h, uid } from "./dom";
import { formatNumber } from "./format";

/** A Danish sentence for an API reason (services/*: validate.cpp and the checks). */
export function danishReason(reason: string): string {
  const r = reason.toLowerCase();
  const max = /at most (\d+) characters/.exec(r);
  if (r.startsWith("cpr number")) return "Skriv et gyldigt CPR-nummer: DDMMÅÅ-SSSS.";
  if (r.includes("birth date it encodes is after")) return "Fødselsdatoen i CPR-nummeret ligger efter sigtelsen.";
  if (r.startsWith("journal number")) return "Skriv journalnummeret som NNNN-NNNNN-NNNNN-ÅÅ.";
  if (r.includes("phone number") || r.includes("prefix 0045")) return "Skriv et telefonnummer: 8 cifre, eller + og landekode.";
  if (r.startsWith("e-mail")) return "Skriv en gyldig e-mailadresse.";
  if (r.includes("not a danish municipality")) return "Vælg en dansk kommune.";
  if (r.includes("already used with a different body"))
    return "Denne registrering er allerede sendt med andre oplysninger. Start en ny registrering.";
  if (r.includes("must not be in the future")) return "Må ikke ligge i fremtiden.";
  if (r.includes("before the charge")) return "Må ikke ligge før sigtelsen.";
  if (r.includes("before the underretning was sent")) return "Må ikke ligge før underretningen blev sendt.";
  if (r.includes("give both from and to")) return "Vælg både en fra- og en til-dato, eller ingen af dem.";
  if (r.includes("rfc 3339 time or a date")) return "Skriv en dato.";
  if (r.includes("must be after from")) return "Skal ligge efter startdatoen.";
  const rows = /more than (\d+) rows/.exec(r);
  if (rows) return `Svaret ville få mere end ${formatNumber(Number(rows[1]))} rækker. Opdel efter færre ting, eller vælg færre måneder.`;
  if (r.includes("not a centre the directory routes to")) return "Vælg et rusmiddelcenter, der er med i ordningen i dag.";
  if (r.includes("required") || r.includes("is empty")) return max ? `Skal udfyldes (højst ${max[1]} tegn).` : "Skal udfyldes.";
  if (max) return `Højst ${max[1]} tegn.`;
  if (r.includes("control character") || r.includes("one line") || r.includes("utf-8"))
    return "Må ikke indeholde linjeskift eller usynlige styretegn.";
  if (r.startsWith("one of") || r.startsWith("must be")) return "Vælg en af mulighederne.";
  return "Feltet er ikke udfyldt korrekt.";
}

interface FieldSpec {
  name: string;
  label: string;
  hint?: string;
  required?: boolean;
  attrs?: Record<string, string>;
}

function group(spec: FieldSpec, control: HTMLElement, id: string): HTMLElement {
  const hintId = spec.hint ? `${id}-hint` : undefined;
  if (hintId) control.setAttribute("aria-describedby", hintId);
  return h(
    "div",
    { class: "form-group", "data-field": spec.name },
    h("label", { class: "form-label", for: id }, spec.label, spec.required ? null : h("span", { class: "weight-normal" }, " (valgfri)")),
    spec.hint ? h("span", { class: "form-hint", id: hintId }, spec.hint) : null,
    control,
  );
}

export function textField(spec: FieldSpec & { type?: string; value?: string }): HTMLElement {
  const id = uid(spec.name.replace(/\W/g, "-"));
  const input = h("input", { class: "form-input", id, name: spec.name, type: spec.type ?? "text", required: spec.required, ...spec.attrs });
  if (spec.value !== undefined) input.value = spec.value;
  return group(spec, input, id);
}

/** One dkfds checkbox in its form group. */
export function checkbox(spec: FieldSpec & { value?: string }): HTMLElement {
  const id = uid(spec.name.replace(/\W/g, "-"));
  return h("div", { class: "form-group", "data-field": spec.name },
    h("div", { class: "form-group-checkbox" },
      h("input", { type: "checkbox", class: "form-checkbox", id, name: spec.name, value: spec.value ?? "yes", required: spec.required }),
      h("label", { for: id }, spec.label)));
}

export function textArea(spec: FieldSpec): HTMLElement {
  const id = uid(spec.name.replace(/\W/g, "-"));
  return group(spec, h("textarea", { class: "form-input", id, name: spec.name, rows: 3, required: spec.required, ...spec.attrs }), id);
}

export function selectField(spec: FieldSpec & { options: [string, string][] }): HTMLElement {
  const id = uid(spec.name.replace(/\W/g, "-"));
  const sel = h("select", { class: "form-select", id, name: spec.name, required: spec.required, ...spec.attrs },
    spec.options.map(([v, l]) => h("option", { value: v }, l)));
  return group(spec, sel, id);
}

/** A dkfds radio group in a fieldset (the legend is the label). */
export function radioGroup(spec: FieldSpec & { options: [string, string][] }): HTMLElement {
  const base = uid(spec.name.replace(/\W/g, "-"));
  return h(
    "div",
    { class: "form-group", "data-field": spec.name },
    h("fieldset", {},
      h("legend", { class: "form-label" }, spec.label),
      spec.hint ? h("span", { class: "form-hint" }, spec.hint) : null,
      spec.options.map(([v, l], i) =>
        h("div", { class: "form-group-radio" },
          h("input", { class: "form-radio", type: "radio", id: `${base}-${i}`, name: spec.name, value: v, required: spec.required }),
          h("label", { for: `${base}-${i}` }, l))),
    ),
  );
}

export interface BoundForm {
  form: HTMLFormElement;
  values(): Record<string, string>;
  set(name: string, value: string): void;
  showErrors(errors: FieldError[]): void;
  /** Field errors next to their fields, anything else in the summary; retry adds a button. */
  showError(e: unknown, retry?: () => void): void;
  clearErrors(): void;
  clearDraft(): void;
}

function controls(form: HTMLFormElement): (HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement)[] {
  return Array.from(form.querySelectorAll<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>("input[name], select[name], textarea[name]"));
}

/**
 * Wires a form: `fieldMap` maps an API field path (e.g. `person.cpr`) to the
 * control's name where they differ; `draftKey` keeps the values in
 * sessionStorage until clearDraft(). The summary is the form's first child.
 */
export function bindForm(form: HTMLFormElement, opts: { draftKey?: string; fieldMap?: Record<string, string> } = {}): BoundForm {
  const summary = h("div", { class: "form-summary", "aria-live": "polite" });
  form.prepend(summary);
  const key = opts.draftKey ? `henvis-draft:${opts.draftKey}` : null;

  const values = (): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const c of controls(form)) {
      if (c instanceof HTMLInputElement && (c.type === "radio" || c.type === "checkbox")) {
        if (c.checked) out[c.name] = c.value;
      } else out[c.name] = c.value;
    }
    return out;
  };
  const set = (name: string, value: string): void => {
    for (const c of controls(form)) {
      if (c.name !== name) continue;
      if (c instanceof HTMLInputElement && (c.type === "radio" || c.type === "checkbox")) c.checked = c.value === value;
      else c.value = value;
    }
  };
  if (key) {
    const saved = sessionStorage.getItem(key);
    if (saved) for (const [k, v] of Object.entries(JSON.parse(saved) as Record<string, string>)) set(k, v);
    const save = () => sessionStorage.setItem(key, JSON.stringify(values()));
    form.addEventListener("input", save);
    form.addEventListener("change", save);
  }

  const clearErrors = (): void => {
    clear(summary);
    form.querySelectorAll(".form-error-message").forEach((e) => e.remove());
    form.querySelectorAll(".form-error").forEach((e) => e.classList.remove("form-error"));
    form.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
  };

  const groupFor = (field: string): HTMLElement | null => {
    const name = opts.fieldMap?.[field] ?? field;
    return form.querySelector<HTMLElement>(`.form-group[data-field="${CSS.escape(name)}"]`);
  };

  const showErrors = (errors: FieldError[]): void => {
    const unplaced: string[] = [];
    const items: HTMLElement[] = [];
    for (const fe of errors) {
      const g = groupFor(fe.field);
      const text = danishReason(fe.reason);
      if (!g) {
        unplaced.push(text);
        continue;
      }
      const control = g.querySelector<HTMLElement>("input, select, textarea");
      const id = uid("fejl");
      g.classList.add("form-error");
      const msg = h("span", { class: "form-error-message", id }, h("span", { class: "sr-only" }, "Fejl: "), text);
      const anchor = g.querySelector(".form-group-radio, .form-group-checkbox") ?? g.querySelector("input, select, textarea");
      if (anchor?.parentNode) anchor.parentNode.insertBefore(msg, anchor);
      else g.append(msg);
      if (control) {
        control.setAttribute("aria-invalid", "true");
        const described = control.getAttribute("aria-describedby");
        control.setAttribute("aria-describedby", described ? `${described} ${id}` : id);
        const label = g.querySelector("label, legend")?.textContent ?? fe.field;
        items.push(h("li", {}, h("a", { href: `#${control.id}`, class: "function-link" }, `${label}: ${text}`)));
      }
    }
    clear(summary);
    summary.append(alertBox("error", "Ret venligst fejlene", h("ul", { class: "alert-list" }, items, unplaced.map((t) => h("li", {}, t)))));
  };

  const showError = (e: unknown, retry?: () => void): void => {
    clearErrors();
    if (e instanceof ApiError && e.fieldErrors.length) return showErrors(e.fieldErrors);
    const retryButton = retry && (!(e instanceof ApiError) || e.retryable)
      ? h("button", { type: "button", class: "button button-secondary" }, "Prøv igen")
      : null;
    retryButton?.addEventListener("click", retry!);
    summary.append(alertBox("error", "Det lykkedes ikke", [describeError(e), retryButton ? h("br") : null, retryButton]));
  };

  return {
    form,
    values,
    set,
    showErrors,
    showError,
    clearErrors,
    clearDraft: () => {
      if (key) sessionStorage.removeItem(key);
    },
  };
}
