/**
 * Every curl example of DigitalOcean's registry API reference, replayed against Berth: method,
 * headers and body exactly as written there, sent as curl sends them (its User-Agent and Accept,
 * Content-Length only with -d, no body otherwise). Only the host, the token and the names
 * change, pointing at fixtures each example needs; every example must succeed.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../harness.js';
import { buildRequest, rawRequest } from '../support/raw-http.js';
import { issuedPageToken, prepare } from './operation-fixtures.js';
import { publishedOperations, type Operation } from './support.js';

// A copy of /work/shared/spec/docr-api-reference.txt (DigitalOcean's published reference), kept
// with the tests so a clean clone has it.
const REFERENCE = new URL('../fixtures/docr-api-reference.txt', import.meta.url);

interface CurlExample {
  line: number;
  method: string;
  headers: [string, string][];
  body?: string;
  url: string;
}

/** Splits a shell command line into words: single and double quotes, backslash-newline joins. */
function shellWords(command: string): string[] {
  const words: string[] = [];
  let current = '';
  let quote: '"' | "'" | undefined;
  let inWord = false;
  for (const ch of command) {
    if (quote) {
      if (ch === quote) quote = undefined;
      else current += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
    } else {
      current += ch;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unterminated quote in: ${command}`);
  if (inWord) words.push(current);
  return words;
}

/** Every `curl` command in the reference: real examples, and the generic `$HTTP_METHOD` template. */
function parseReference(text: string): { examples: CurlExample[]; templates: number[]; total: number } {
  const lines = text.split('\n');
  const examples: CurlExample[] = [];
  const templates: number[] = [];
  let total = 0;
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith('curl ')) continue;
    total++;
    const start = i;
    let command = lines[i]!;
    while (command.endsWith('\\')) command = `${command.slice(0, -1)} ${lines[++i]!}`;
    const words = shellWords(command);
    const example: CurlExample = { line: start + 1, method: 'GET', headers: [], url: '' };
    for (let w = 1; w < words.length; w++) {
      const word = words[w]!;
      if (word === '-X') example.method = words[++w]!;
      else if (word === '-H') {
        const header = words[++w]!;
        const colon = header.indexOf(':');
        example.headers.push([header.slice(0, colon).trim(), header.slice(colon + 1).trim()]);
      } else if (word === '-d') example.body = words[++w]!;
      else if (word.startsWith('-')) throw new Error(`line ${start + 1}: curl option ${word} is not understood by this parser`);
      else example.url = word;
    }
    if (example.method === '$HTTP_METHOD') templates.push(start + 1);
    else examples.push(example);
  }
  return { examples, templates, total };
}

let h: Harness;
let ops: Operation[];
let port: number;
const reference = parseReference(readFileSync(REFERENCE, 'utf8'));

beforeAll(async () => {
  h = await startHarness({ tiers: '{"professional":{"max_registries":1000}}' });
  ops = await publishedOperations(h);
  port = Number(new URL(h.apiUrl).port);
});
afterAll(() => h?.close());

/** The published operation an example's URL path is an instance of. */
function operationOf(method: string, path: string): Operation {
  const match = [...ops]
    .sort((a, b) => a.params.length - b.params.length)
    .find((o) => o.method === method && new RegExp(`^${o.path.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path));
  if (!match) throw new Error(`no published operation serves ${method} ${path}`);
  return match;
}

/** The example's path with each path parameter replaced by a fixture's value (encoded). */
function substitutePath(op: Operation, path: string, params: Record<string, string>): string {
  const template = op.path.split('/');
  return path
    .split('/')
    .map((segment, i) => {
      const name = /^\{(.+)\}$/.exec(template[i] ?? '')?.[1];
      return name ? encodeURIComponent(params[name]!) : segment;
    })
    .join('/');
}

describe("the reference's curl examples", () => {
  it('are all found: 20 examples and the generic $HTTP_METHOD template on each of 19 pages', () => {
    const listed = reference.examples.map((e) => `${e.line}: ${e.method} ${new URL(e.url).pathname}${new URL(e.url).search}`);
    expect(listed).toEqual([
      '60: GET /v2/registries',
      '318: POST /v2/registries',
      '617: GET /v2/registries/options',
      '940: GET /v2/registries/subscription',
      '1242: POST /v2/registries/subscription',
      '1553: POST /v2/registries/validate-name',
      '1821: GET /v2/registries/example',
      '2120: DELETE /v2/registries/example',
      '2393: GET /v2/registries/example/docker-credentials',
      '2672: GET /v2/registries/example/garbage-collection',
      '2992: POST /v2/registries/example/garbage-collection',
      '3319: PUT /v2/registries/example/garbage-collection/example-gc-uuid',
      '3644: GET /v2/registries/example/garbage-collections',
      '3967: DELETE /v2/registries/example/repositories/repo-1',
      '4253: GET /v2/registries/example/repositories/repo-1/digests',
      '4652: DELETE /v2/registries/example/repositories/repo-1/digests/sha256:cb8a924afdf0229ef7515d9e5b3024e23b3eb03ddbba287f4a19c6ac90b8d221',
      '4938: GET /v2/registries/example/repositories/repo-1/tags',
      '5295: DELETE /v2/registries/example/repositories/repo-1/tags/mytag',
      '5577: GET /v2/registries/example/repositoriesV2?page_size=1',
      '5581: GET /v2/registries/example/repositoriesV2?page=2&page_token=JPZmZzZXQiOjB9&per_page=1',
    ]);
    expect(reference.templates).toHaveLength(19);
    // Nothing starting with `curl` escaped both lists.
    expect(reference.examples.length + reference.templates.length).toBe(reference.total);
  });

  it('each succeeds against Berth with the headers and body written in the reference', async () => {
    const answered: string[] = [];
    for (const example of reference.examples) {
      const url = new URL(example.url);
      expect(url.origin, `line ${example.line}`).toBe('https://api.digitalocean.com');
      const op = operationOf(example.method, url.pathname);
      const fixture = await prepare(h, op);
      const path = substitutePath(op, url.pathname, fixture.params);
      const query = new URLSearchParams(url.search);
      // DigitalOcean's page token means nothing here: use one Berth issued for this registry.
      if (query.has('page_token')) query.set('page_token', await issuedPageToken(h, fixture.token, fixture.params.registry_name!));
      let body = example.body;
      // The names in the body are the reference's ("example"); use names free on this server.
      if (body !== undefined && typeof fixture.body?.name === 'string') body = body.replace(/"name":\s*"[^"]*"/, `"name": "${fixture.body.name}"`);
      const headers: [string, string][] = [
        ['Host', `127.0.0.1:${port}`],
        ['User-Agent', 'curl/7.88.1'],
        ['Accept', '*/*'],
        ...example.headers.map(([k, v]): [string, string] => [k, v.replace('$DIGITALOCEAN_TOKEN', fixture.token)]),
      ];
      const target = `${path}${[...query].length > 0 ? `?${query}` : ''}`;
      const res = await rawRequest({ port }, buildRequest(example.method, target, headers, body));
      expect(res.status, `line ${example.line}: ${example.method} ${target} ${body ?? ''}\n${res.text}`).toBeGreaterThanOrEqual(200);
      expect(res.status, `line ${example.line}: ${example.method} ${target} ${body ?? ''}\n${res.text}`).toBeLessThan(300);
      expect(res.status, `line ${example.line}`).toBe(fixture.status);
      answered.push(`${example.line} ${op.operationId} ${res.status}`);
    }
    expect(answered).toHaveLength(20);
  });
});
