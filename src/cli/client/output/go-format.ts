/**
 * Values written the way doctl (Go's fmt and text/tabwriter) writes them, so Berth's tables
 * read exactly like doctl's: times as `2006-01-02 15:04:05 +0000 UTC`, lists as `[a b]`,
 * missing values as `<nil>`, sizes in decimal units (`1.50 kB`).
 */

/** A missing value as Go's `%v` prints a nil pointer or interface. */
export const NIL = '<nil>';

const HUMAN_UNITS = ['k', 'M', 'G', 'T', 'P', 'E'];

/** doctl's BytesToHumanReadableUnit: decimal base, `%d B` under 1000, else `%.2f <unit>B`. */
export function humanBytes(bytes: number | undefined): string {
  const n = Math.max(0, Math.trunc(bytes ?? 0));
  if (n < 1000) return `${n} B`;
  let div = 1000;
  let exp = 0;
  for (let rest = Math.floor(n / 1000); rest >= 1000; rest = Math.floor(rest / 1000)) {
    div *= 1000;
    exp++;
  }
  return `${goFixed2(n / div)} ${HUMAN_UNITS[exp]}B`;
}

/**
 * Go's `%.2f`: both Go and toFixed round the float's exact binary value, but on an exact tie
 * (1.125) Go rounds half to even where toFixed rounds up.
 */
export function goFixed2(value: number): string {
  const hundredths = value * 100;
  const floor = Math.floor(hundredths);
  if (hundredths - floor === 0.5 && (floor + 0.5) / 100 === value) return ((floor % 2 === 0 ? floor : floor + 1) / 100).toFixed(2);
  return value.toFixed(2);
}

/**
 * Go's `time.Time.String()` for an RFC 3339 timestamp as godo decodes it: UTC times print
 * `+0000 UTC`, other offsets print the offset twice (Go has no zone name for them); the
 * fraction keeps its significant digits only. An absent time prints Go's zero time.
 */
export function goTime(iso: string | undefined): string {
  if (!iso) return '0001-01-01 00:00:00 +0000 UTC';
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:?\d{2})$/.exec(iso);
  if (!m) return iso;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const fraction = frac ? frac.replace(/0+$/, '') : '';
  const clock = `${y}-${mo}-${d} ${h}:${mi}:${s}${fraction ? `.${fraction.slice(0, 9)}` : ''}`;
  if (zone === 'Z' || zone === 'z') return `${clock} +0000 UTC`;
  const offset = zone!.replace(':', '');
  return offset === '+0000' || offset === '-0000' ? `${clock} +0000 +0000` : `${clock} ${offset} ${offset}`;
}

/** Go's `%v` of a `*time.Time`: `<nil>` when absent. */
export function goTimePointer(iso: string | undefined): string {
  return iso ? goTime(iso) : NIL;
}

/** Go's `%v` of a `[]string`: `[a b]`, `[]` when empty. */
export function goList(values: readonly string[] | undefined): string {
  return `[${(values ?? []).join(' ')}]`;
}

/** Go's `%v` of a bool. */
export function goBool(value: boolean | undefined): string {
  return value ? 'true' : 'false';
}

/** Go's `%d` of an int (an absent number decodes to 0). */
export function goInt(value: number | undefined): string {
  return String(Math.trunc(value ?? 0));
}

/** Character width as text/tabwriter counts it: one per Unicode code point. */
function cellWidth(text: string): number {
  return [...text].length;
}

/**
 * What Go's `tabwriter.NewWriter(out, 0, 0, 4, ' ', 0)` prints for tab-separated lines: every
 * cell but the last on a line is padded to its column's widest cell plus four spaces; the last
 * cell is written as is. All lines have the same number of cells here, so there is one block.
 */
export function tabwrite(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      if (i < row.length - 1) widths[i] = Math.max(widths[i] ?? 0, cellWidth(cell) + 4);
    });
  }
  return rows
    .map((row) => row.map((cell, i) => (i < row.length - 1 ? cell + ' '.repeat(widths[i]! - cellWidth(cell)) : cell)).join('') + '\n')
    .join('');
}
