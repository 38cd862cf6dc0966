import { describe, expect, it } from 'vitest';
import { isValidTag, parseRepositoryName, registryNameProblem } from './names.js';

describe('parseRepositoryName', () => {
  it('splits registry and path', () => {
    expect(parseRepositoryName('reg/app')).toEqual({ full: 'reg/app', registry: 'reg', path: 'app' });
    expect(parseRepositoryName('reg/team/app-1.2_x__y')).toMatchObject({ registry: 'reg', path: 'team/app-1.2_x__y' });
  });

  it.each(['Reg/app', 'reg//app', 'reg/../app', 'reg/app/', '/reg/app', 'reg/-app', 'reg/app-', 'reg/a%2Fb', 'reg', '1reg/app', 'reg-/app'])(
    'refuses %s',
    (name) => {
      expect(typeof parseRepositoryName(name)).toBe('string');
    },
  );

  it('limits the full name to 255 characters', () => {
    expect(typeof parseRepositoryName(`r/${'a'.repeat(253)}`)).toBe('object');
    expect(parseRepositoryName(`r/${'a'.repeat(254)}`)).toMatch(/at most 255/);
  });
});

describe('registry names', () => {
  it.each([
    ['ok', undefined],
    ['a', undefined],
    ['my-registry-2', undefined],
    ['', 'must not be empty'],
    ['Upper', 'may contain only'],
    ['9lives', 'must begin with a letter'],
    ['trailing-', 'must end with a letter or digit'],
    ['a'.repeat(64), 'at most 63'],
    ['options', 'reserved'],
  ])('%s → %s', (name, problem) => {
    const result = registryNameProblem(name);
    if (problem === undefined) expect(result).toBeUndefined();
    else expect(result).toContain(problem);
  });
});

describe('tags', () => {
  it.each([
    ['latest', true],
    ['v1.0.0-rc_1', true],
    ['_x', true],
    ['a'.repeat(128), true],
    ['a'.repeat(129), false],
    ['.x', false],
    ['-x', false],
    ['a:b', false],
    ['', false],
  ])('%s is valid: %s', (tag, valid) => {
    expect(isValidTag(tag)).toBe(valid);
  });
});
