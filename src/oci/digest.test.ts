import { describe, expect, it } from 'vitest';
import { digestOf, parseDigest } from './digest.js';

describe('parseDigest', () => {
  it('accepts sha256 and sha512', () => {
    const d = digestOf(Buffer.from('x'));
    expect(parseDigest(d)).toEqual({ algorithm: 'sha256', hex: d.slice(7), value: d });
    expect(typeof parseDigest(digestOf(Buffer.from('x'), 'sha512'))).toBe('object');
  });

  it.each([
    ['sha256:abc', 'malformed'],
    [`sha256:${'A'.repeat(64)}`, 'malformed'],
    [`sha512:${'a'.repeat(64)}`, 'malformed'],
    ['sha256', 'malformed'],
    ['', 'malformed'],
    [`md5:${'a'.repeat(32)}`, 'unsupported-algorithm'],
    [`sha256+b64u:${'a'.repeat(43)}`, 'unsupported-algorithm'],
  ])('%s → %s', (input, problem) => {
    expect(parseDigest(input)).toBe(problem);
  });
});
