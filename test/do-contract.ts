/**
 * DigitalOcean's published OpenAPI for the registry (a copy of ../shared/spec/openapi kept in
 * test/fixtures so CI has it): validates every JSON body Berth returns against the schema of
 * the operation and status that produced it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';

const ROOT = fileURLToPath(new URL('./fixtures/do-openapi/', import.meta.url));
const OPERATIONS = path.join(ROOT, 'resources/registry');

const cache = new Map<string, unknown>();
function load(file: string): unknown {
  if (!cache.has(file)) cache.set(file, parse(readFileSync(file, 'utf8')));
  return cache.get(file);
}

/** Inlines every `$ref` (relative file plus optional JSON pointer). */
function resolve(node: unknown, file: string, depth = 0): unknown {
  if (depth > 64) throw new Error(`$ref nesting too deep in ${file}`);
  if (Array.isArray(node)) return node.map((n) => resolve(n, file, depth + 1));
  if (node === null || typeof node !== 'object') return node;
  const obj = node as Record<string, unknown>;
  if (typeof obj.$ref === 'string') {
    const [target, pointer] = obj.$ref.split('#');
    const targetFile = target ? path.resolve(path.dirname(file), target) : file;
    let value = load(targetFile);
    for (const part of (pointer ?? '').split('/').filter(Boolean)) value = (value as Record<string, unknown>)[part];
    return resolve(value, targetFile, depth + 1);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'example' || k === 'examples' || k === 'x-codeSamples') continue;
    out[k] = resolve(v, file, depth + 1);
  }
  return out;
}

const ajv = new Ajv({ strict: false, allErrors: true });
addFormats.default(ajv);

const operations = new Map<string, string>();
for (const name of readdirSync(OPERATIONS)) {
  if (!name.endsWith('.yml') || name === 'parameters.yml') continue;
  const doc = load(path.join(OPERATIONS, name)) as { operationId?: string };
  if (doc.operationId) operations.set(doc.operationId, path.join(OPERATIONS, name));
}

const validators = new Map<string, ValidateFunction | null>();

/** The published operation ids, to check every one is exercised. */
export function operationIds(): string[] {
  return [...operations.keys()].sort();
}

/** Schema violations of `body` for the operation's `status` response ([] when it conforms). */
export function violations(operationId: string, status: number, body: unknown): string[] {
  const key = `${operationId} ${status}`;
  if (!validators.has(key)) {
    const file = operations.get(operationId);
    if (!file) throw new Error(`unknown operationId ${operationId}`);
    const op = resolve(load(file), file) as { responses: Record<string, { content?: Record<string, { schema?: object }> }> };
    const response = op.responses[String(status)] ?? op.responses.default;
    const schema = response?.content?.['application/json']?.schema;
    validators.set(key, schema ? ajv.compile(schema) : null);
  }
  const validate = validators.get(key);
  if (!validate) return body === undefined || body === '' ? [] : [`${key}: the spec declares no JSON body`];
  return validate(body) ? [] : (validate.errors ?? []).map((e) => `${key}: ${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);
}
