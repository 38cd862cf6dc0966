/**
 * Name grammar: OCI repository names and tags, and DigitalOcean registry names.
 *
 * On Berth an OCI repository name is `<registry>/<path>`: the first component is the
 * registry (DigitalOcean's rules), the rest is the repository inside it.
 */

const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const REPOSITORY_NAME = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
/** DigitalOcean: lowercase letters, digits and `-`; starts with a letter, ends with a letter or digit. */
const REGISTRY_NAME = /^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export const MAX_REPOSITORY_NAME_LENGTH = 255;

/** Names that collide with literal paths of the management API. */
const RESERVED_REGISTRY_NAMES = new Set(['subscription', 'options', 'validate-name']);

export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

export function isValidRegistryName(name: string): boolean {
  return REGISTRY_NAME.test(name) && !RESERVED_REGISTRY_NAMES.has(name);
}

/** Why a registry name is refused, for messages that tell the user what to change. */
export function registryNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.length > 63) return 'must be at most 63 characters';
  if (!/^[a-z0-9-]+$/.test(name)) return 'may contain only lowercase letters, digits and "-"';
  if (!/^[a-z]/.test(name)) return 'must begin with a letter';
  if (!/[a-z0-9]$/.test(name)) return 'must end with a letter or digit';
  if (RESERVED_REGISTRY_NAMES.has(name)) return `"${name}" is reserved`;
  return undefined;
}

export interface RepositoryName {
  /** The full OCI name, `<registry>/<path>`. */
  full: string;
  registry: string;
  /** The repository inside the registry (may contain `/`). */
  path: string;
}

/**
 * Splits and validates a full OCI repository name. Returns a message describing the problem
 * when it is unusable.
 */
export function parseRepositoryName(full: string): RepositoryName | string {
  if (full.length > MAX_REPOSITORY_NAME_LENGTH) return `repository name must be at most ${MAX_REPOSITORY_NAME_LENGTH} characters`;
  if (!REPOSITORY_NAME.test(full)) return `invalid repository name "${truncate(full)}": lowercase letters, digits and separators (. _ __ - /) only, no empty or leading/trailing separators`;
  const slash = full.indexOf('/');
  if (slash < 0) return `repository name "${full}" must be <registry>/<repository>`;
  const registry = full.slice(0, slash);
  const problem = registryNameProblem(registry);
  if (problem) return `invalid registry name "${registry}": ${problem}`;
  return { full, registry, path: full.slice(slash + 1) };
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
