import type { RegistryAction } from './credentials.js';

/** One entry of a JWT's `access` claim, as in the Docker token specification. */
export interface AccessEntry {
  type: string;
  name: string;
  actions: string[];
}

/** What was asked for and refused, with why; lets the registry answer 403 instead of a retry loop. */
export interface DeniedEntry extends AccessEntry {
  reason: string;
}

/**
 * The individual scopes in `scope` parameter values. A value may hold several, separated by
 * whitespace (OAuth2's form, which docker and containerd use in POST bodies: form-encoded as
 * `+` or `%20`); the parameter may also repeat (what they send on GET). Tabs, newlines and runs
 * of spaces separate too, so a scope can never swallow its neighbour.
 */
export function splitScopes(values: readonly string[]): string[] {
  return values.flatMap((value) => value.split(/\s+/)).filter(Boolean);
}

/**
 * Parses Docker token `scope` values: `repository:reg/app:pull,push`, `registry:catalog:*`.
 * Entries for the same resource are merged, their actions united.
 */
export function parseScopeParams(values: readonly string[]): AccessEntry[] {
  const entries: AccessEntry[] = [];
  for (const scope of splitScopes(values)) {
    const first = scope.indexOf(':');
    const last = scope.lastIndexOf(':');
    if (first <= 0 || last === first) continue;
    const type = scope.slice(0, first).replace(/\(.*\)$/, '');
    const name = scope.slice(first + 1, last);
    const actions = scope
      .slice(last + 1)
      .split(',')
      .filter(Boolean);
    if (!name || actions.length === 0) continue;
    const existing = entries.find((e) => e.type === type && e.name === name);
    if (existing) existing.actions = [...new Set([...existing.actions, ...actions])];
    else entries.push({ type, name, actions: [...new Set(actions)] });
  }
  return entries;
}

export function formatScope(entry: AccessEntry): string {
  return `${entry.type}:${entry.name}:${entry.actions.join(',')}`;
}

/** Expands `*` into the concrete actions a repository supports. */
export function expandActions(actions: readonly string[]): RegistryAction[] {
  const out = new Set<RegistryAction>();
  for (const a of actions) {
    if (a === '*') {
      out.add('pull');
      out.add('push');
      out.add('delete');
    } else if (a === 'pull' || a === 'push' || a === 'delete') out.add(a);
  }
  return [...out];
}
