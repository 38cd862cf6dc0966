import { describe, expect, it } from 'vitest';
import { formatBytes, parseRate, Progress, RateLimit } from './progress.js';

describe('parseRate', () => {
  it.each([
    ['50M', 50 * 1024 ** 2],
    ['800k', 800 * 1024],
    ['1.5G', 1.5 * 1024 ** 3],
    ['2MiB/s', 2 * 1024 ** 2],
    ['4096', 4096],
  ])('%s is %d bytes per second', (input, expected) => expect(parseRate(input)).toBe(expected));

  it.each([['fast'], ['0'], ['-5M'], ['5T'], ['']])('%s is refused', (input) => expect(parseRate(input)).toBeUndefined());
});

describe('formatBytes', () => {
  it('uses binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.0 GiB');
  });
});

describe('Progress', () => {
  it('reports items and bytes of the total, and the end', () => {
    const lines: string[] = [];
    const p = new Progress('blobs', { items: 2, bytes: 2048 }, (l) => lines.push(l), 0);
    p.add(1, 1024);
    p.finish('all verified');
    expect(lines[0]).toMatch(/^blobs: 1\/2 \(1\.0 KiB of 2\.0 KiB, .*\/s\)$/);
    expect(lines[1]).toMatch(/^blobs: 1\/2 .*, all verified$/);
  });

  it('leaves bytes out when only items count', () => {
    const lines: string[] = [];
    new Progress('rows', { items: 10, bytes: 0 }, (l) => lines.push(l)).finish();
    expect(lines).toEqual(['rows: 0/10']);
  });
});

describe('RateLimit', () => {
  it('holds a copy under its rate', async () => {
    const limit = new RateLimit(100_000);
    const started = Date.now();
    for (let i = 0; i < 3; i++) await limit.take(100_000);
    // The first second's budget is there at once; the next two take about a second each.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
  });
});
