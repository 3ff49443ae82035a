// Danish working days (Monday–Friday except public holidays), as the router
// counts them for reminders (common/workdays.cpp): the Easter-based holidays
// computed; store bededag up to and including 2023. Days are "YYYY-MM-DD".

function easterSunday(year: number): Date {
  const a = year % 19, b = Math.floor(year / 100), c = year % 100;
  const d = Math.floor(b / 4), e = b % 4, f = Math.floor((b + 8) / 25), g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30, i = Math.floor(c / 4), k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7, m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31), day = ((h + l - 7 * m + 114) % 31) + 1;
  return new Date(Date.UTC(year, month - 1, day));
}

const iso = (d: Date): string => d.toISOString().slice(0, 10);
const addDays = (day: string, n: number): string => iso(new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000));

const cache = new Map<number, Set<string>>();
function holidays(year: number): Set<string> {
  let set = cache.get(year);
  if (set) return set;
  const easter = iso(easterSunday(year));
  const offsets = [-3, -2, 0, 1, 39, 49, 50, ...(year <= 2023 ? [26] : [])];
  set = new Set([`${year}-01-01`, `${year}-12-25`, `${year}-12-26`, ...offsets.map((o) => addDays(easter, o))]);
  cache.set(year, set);
  return set;
}

export function isWorkingDay(day: string): boolean {
  const wd = new Date(`${day}T00:00:00Z`).getUTCDay();
  return wd !== 0 && wd !== 6 && !holidays(Number(day.slice(0, 4))).has(day);
}

/** The n-th working day after `day`. */
export function addWorkingDays(day: string, n: number): string {
  let d = day;
  for (let left = n; left > 0; ) {
    d = addDays(d, 1);
    if (isWorkingDay(d)) left -= 1;
  }
  return d;
}

/** Working days after `from` up to and including `to`; negative when `to` is before `from`. */
export function workingDaysBetween(from: string, to: string): number {
  if (to < from) return -workingDaysBetween(to, from);
  let n = 0;
  for (let d = addDays(from, 1); d <= to; d = addDays(d, 1)) if (isWorkingDay(d)) n += 1;
  return n;
}
