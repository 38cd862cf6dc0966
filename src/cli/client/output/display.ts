/**
 * doctl's displayer machinery: an item knows its default columns, each column's header, its
 * rows as text and its JSON form; `-o text|json`, `--format` and `--no-header` pick what is
 * written. JSON is the API's objects, untouched: exact numbers and timestamps.
 */
import { CliError } from '../errors.js';
import type { Output } from '../io.js';
import { tabwrite } from './go-format.js';

export interface Displayable {
  /** Column keys shown by default, in order. */
  cols: readonly string[];
  /** Header of every column key (also the keys `--format` accepts). */
  colMap: Readonly<Record<string, string>>;
  /** One record per row: column key → text as doctl prints it. */
  rows(): Record<string, string>[];
  /** What `-o json` prints. */
  json(): unknown;
}

export type OutputType = 'text' | 'json';

export interface DisplayOptions {
  output: OutputType;
  /** `--format`: comma-separated column keys (whitespace ignored, as doctl does). */
  format?: string;
  noHeader?: boolean;
}

/** The column keys of a `--format` value; empty means the defaults. */
export function parseFormat(format: string | undefined): string[] {
  return (format ?? '')
    .replace(/\s+/g, '')
    .split(',')
    .filter((c) => c !== '');
}

/** Text of the item as a table, or its JSON. */
export function render(item: Displayable, options: DisplayOptions): string {
  if (options.output === 'json') return `${JSON.stringify(item.json(), null, 2)}\n`;
  const requested = parseFormat(options.format);
  const cols = requested.length > 0 ? requested : [...item.cols];
  for (const col of cols) {
    if (!Object.hasOwn(item.colMap, col)) {
      throw new CliError(`unknown column "${col}"; possible values: ${Object.keys(item.colMap).join(', ')}`);
    }
  }
  const lines: string[][] = [];
  if (!options.noHeader) lines.push(cols.map((c) => item.colMap[c]!));
  for (const row of item.rows()) lines.push(cols.map((c) => row[c] ?? '<nil>'));
  return tabwrite(lines);
}

export function display(out: Output, item: Displayable, options: DisplayOptions): void {
  out.write(render(item, options));
}
