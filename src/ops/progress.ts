/** Where an operation reports to: lines for a person (stdout of the CLI). */
export type Say = (line: string) => void;

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/**
 * Progress of a long copy: a line at most every `intervalMs`, and one at the end, each with
 * items and bytes done of the total and the recent rate.
 */
export class Progress {
  private items = 0;
  private bytes = 0;
  private lastLine = 0;
  private readonly started = Date.now();

  constructor(
    private readonly label: string,
    private readonly total: { items: number; bytes: number },
    private readonly say: Say,
    private readonly intervalMs = 1_000,
  ) {}

  add(items: number, bytes: number): void {
    this.items += items;
    this.bytes += bytes;
    const now = Date.now();
    if (now - this.lastLine >= this.intervalMs) {
      this.lastLine = now;
      this.say(this.line());
    }
  }

  finish(suffix = ''): void {
    this.say(`${this.line()}${suffix ? `, ${suffix}` : ''}`);
  }

  private line(): string {
    const seconds = Math.max((Date.now() - this.started) / 1000, 0.001);
    if (this.total.bytes === 0) return `${this.label}: ${this.items}/${this.total.items}`;
    return `${this.label}: ${this.items}/${this.total.items} (${formatBytes(this.bytes)} of ${formatBytes(this.total.bytes)}, ${formatBytes(Math.round(this.bytes / seconds))}/s)`;
  }
}

/**
 * A shared byte budget per second (`--bwlimit`): every copy worker takes from it before it
 * passes a chunk on, so the whole operation stays under the rate.
 */
export class RateLimit {
  private allowance: number;
  private last = Date.now();

  constructor(private readonly bytesPerSecond: number) {
    this.allowance = bytesPerSecond;
  }

  async take(bytes: number): Promise<void> {
    for (;;) {
      const now = Date.now();
      this.allowance = Math.min(this.bytesPerSecond, this.allowance + ((now - this.last) / 1000) * this.bytesPerSecond);
      this.last = now;
      if (this.allowance >= bytes || this.allowance >= this.bytesPerSecond) {
        this.allowance -= bytes;
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.ceil(((bytes - this.allowance) / this.bytesPerSecond) * 1000)));
    }
  }
}

/** `50M`, `1.5G`, `800k` or a plain number of bytes per second; undefined when malformed. */
export function parseRate(input: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg])?i?b?(?:\/s)?$/i.exec(input.trim());
  if (!m) return undefined;
  const factor = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? '').toLowerCase() as 'k' | 'm' | 'g'] ?? 1;
  const value = Math.floor(Number(m[1]) * factor);
  return value > 0 ? value : undefined;
}
