// One way for the role pages' forms to send: the page's own checks first
// (field errors in Danish next to the field), the submit button disabled while
// the request runs, the draft cleared on success, and on failure the API's
// field errors next to their fields or a message with "Prøv igen" (the typed
// values stay).

import type { FieldError } from "../api";
import { type BoundForm, bindForm } from "../form";

export interface SubmitOptions {
  /** sessionStorage key of the draft (what was typed survives a reload or a new login). */
  draftKey: string;
  /** Client-side checks mirroring the API's; an empty list sends. */
  check?: (values: Record<string, string>) => FieldError[];
  /** The request; its result goes to done(). */
  send: (values: Record<string, string>) => Promise<unknown>;
  done: (values: Record<string, string>, result: unknown) => void;
  /** Called when a request starts (e.g. to clear an earlier result). */
  started?: () => void;
  /** Called when a request failed, before the error is shown. */
  failed?: (e: unknown) => void;
  busyLabel?: string;
}

export function onSubmit(form: HTMLFormElement, opts: SubmitOptions): BoundForm {
  const bound = bindForm(form, { draftKey: opts.draftKey });
  const run = async (): Promise<void> => {
    bound.clearErrors();
    const values = bound.values();
    const errors = opts.check?.(values) ?? [];
    if (errors.length) return bound.showErrors(errors);
    const btn = form.querySelector<HTMLButtonElement>("button[type=submit]")!;
    const label = btn.textContent;
    btn.disabled = true;
    if (opts.busyLabel) btn.textContent = opts.busyLabel;
    opts.started?.();
    try {
      const result = await opts.send(values);
      bound.clearDraft();
      opts.done(values, result);
    } catch (e) {
      opts.failed?.(e);
      bound.showError(e, () => void run());
    } finally {
      btn.disabled = false;
      btn.textContent = label;
    }
  };
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void run();
  });
  return bound;
}

/** The non-empty values, trimmed (optional fields are left out of the body). */
export function filled(values: Record<string, string>, keys: string[] = Object.keys(values)): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) if (values[k]?.trim()) out[k] = values[k]!.trim();
  return out;
}
