// Dates and times as Danes read them: dd.mm.yyyy and HH:MM in Europe/Copenhagen.
// The parts come from Intl.DateTimeFormat with timeZone Europe/Copenhagen and are
// joined by hand, so every engine prints the same (da-DK separators vary).

export const TIME_ZONE = "Europe/Copenhagen";

const partsFmt = new Intl.DateTimeFormat("en-CA", {
  timeZone: TIME_ZONE, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
});

function toDate(v: string | Date | number): Date {
  return v instanceof Date ? v : new Date(v);
}

function parts(d: Date): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of partsFmt.formatToParts(d)) out[p.type] = p.value;
  return out;
}

/** 15.01.2026 (always dots, whatever the engine's da-DK separator). */
export function formatDate(v: string | Date | number | undefined | null): string {
  if (v === undefined || v === null || v === "") return "";
  const p = parts(toDate(v));
  return `${p.day}.${p.month}.${p.year}`;
}

/** 21:40 */
export function formatTime(v: string | Date | number | undefined | null): string {
  if (v === undefined || v === null || v === "") return "";
  const p = parts(toDate(v));
  return `${p.hour}:${p.minute}`;
}

/** 15.01.2026 21:40 */
export function formatDateTime(v: string | Date | number | undefined | null): string {
  if (v === undefined || v === null || v === "") return "";
  return `${formatDate(v)} ${formatTime(v)}`;
}

/** YYYY-MM-DD of the instant in Copenhagen (for <input type=date> and the APIs' calendar days). */
export function copenhagenDay(v: string | Date | number = new Date()): string {
  const p = parts(toDate(v));
  return `${p.year}-${p.month}-${p.day}`;
}

/** The value for <input type="datetime-local"> showing the instant in Copenhagen time. */
export function toLocalInput(v: string | Date | number = new Date()): string {
  const p = parts(toDate(v));
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
}

/** The instant a Copenhagen wall-clock time ("YYYY-MM-DDTHH:MM") names, as RFC 3339 UTC. */
export function fromLocalInput(local: string): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(local);
  if (!m) return null;
  const [y, mo, d, hh, mm] = m.slice(1).map(Number);
  const guess = Date.UTC(y, mo - 1, d, hh, mm);
  // Copenhagen is UTC+1 or +2: correct the guess by the offset at that time (twice for DST edges).
  let t = guess;
  for (let i = 0; i < 2; i++) {
    const p = parts(new Date(t));
    const shown = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute);
    t += guess - shown;
  }
  return new Date(t).toISOString();
}

/** 0.4235 → "42 %" */
export function formatPercent(rate: number | undefined | null): string {
  if (rate === undefined || rate === null) return "";
  return `${Math.round(rate * 100)} %`;
}

/** Thousands with a dot: 12345 → "12.345". */
export function formatNumber(n: number | undefined | null): string {
  if (n === undefined || n === null) return "";
  return new Intl.NumberFormat("da-DK").format(n);
}
