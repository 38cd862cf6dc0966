/**
 * Facts about the machine the tests run on: whether this is CI (where a missing tool must
 * fail, never skip) and which external tools are present. Imported by vitest.config.ts too, so
 * it must not import vitest.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** True when CI is set to anything but an explicit "false"/"0"/"". */
export function isCI(): boolean {
  const value = process.env.CI;
  return value !== undefined && value !== '' && value !== 'false' && value !== '0';
}

/** Absolute path of an executable on PATH (or the path itself if absolute), else undefined. */
export function findExecutable(name: string): string | undefined {
  const candidates = name.includes('/')
    ? [name]
    : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, name));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The tools in `names` that cannot be found. */
export function missingTools(names: readonly string[]): string[] {
  return names.filter((name) => findExecutable(name) === undefined);
}

/**
 * Checks that the external tools a test file needs exist. Under CI a missing tool throws
 * (the file fails); elsewhere it returns a reason to skip, which callers pass to
 * `describe.skipIf`. Returns undefined when everything is there.
 */
export function requireTools(names: readonly string[]): string | undefined {
  const missing = missingTools(names);
  if (missing.length === 0) return undefined;
  const message = `missing tools: ${missing.join(', ')} (install them, see .ci/run)`;
  if (isCI()) throw new Error(`${message}; CI=true, so this is a failure, not a skip`);
  console.warn(`skipping: ${message}`);
  return message;
}
