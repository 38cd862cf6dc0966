const UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/** Parses `90`, `90s`, `15m`, `1h`, `7d` into whole seconds; undefined when malformed. */
export function parseDurationSeconds(input: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(input.trim());
  if (!match) return undefined;
  const seconds = Number(match[1]) * UNITS[match[2] ?? 's']!;
  return Number.isFinite(seconds) ? Math.round(seconds) : undefined;
}
