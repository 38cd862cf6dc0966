/**
 * The token service's `scope` parameter: several scopes in one value (OAuth2's space-separated
 * form, which docker and containerd put in POST bodies), repeated parameters (what they send
 * on GET), any whitespace between scopes, and a cap on how many one request may ask for.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REGISTRY_HOST, startHarness, type Harness } from '../harness.js';

let h: Harness;
let basic: string;

beforeAll(async () => {
  h = await startHarness();
  await h.createRegistry('scopes');
  basic = `Basic ${Buffer.from(`x:${h.token}`).toString('base64')}`;
});
afterAll(() => h?.close());

type Access = { type: string; name: string; actions: string[] }[];
const accessOf = (jwt: string): Access => (JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as { access: Access }).access;

const A = 'repository:scopes/a:pull';
const B = 'repository:scopes/b:pull,push';
const BOTH: Access = [
  { type: 'repository', name: 'scopes/a', actions: ['pull'] },
  { type: 'repository', name: 'scopes/b', actions: ['pull', 'push'] },
];

/** Raw query strings, as real clients and hand-written scripts encode them. */
const ENCODINGS: [string, string][] = [
  // docker, podman, skopeo (GET): one parameter per scope, url.Values-encoded.
  ['repeated parameters', `scope=${encodeURIComponent(A)}&scope=${encodeURIComponent(B)}`],
  // containerd and docker's OAuth2 POST: strings.Join(scopes, " "), form-encoded as `+`.
  ['one value, +', `scope=${encodeURIComponent(A)}+${encodeURIComponent(B)}`],
  ['one value, %20', `scope=${encodeURIComponent(`${A} ${B}`)}`],
  ['a tab between', `scope=${encodeURIComponent(`${A}\t${B}`)}`],
  ['a newline between', `scope=${encodeURIComponent(`${A}\n${B}`)}`],
  ['runs of spaces, leading and trailing', `scope=${encodeURIComponent(`  ${A}   ${B} `)}`],
  ['unencoded colons and commas', `scope=${A}+${B}`],
  ['both forms at once', `scope=${encodeURIComponent(A)}&scope=${encodeURIComponent(`${B} ${A}`)}`],
];

async function getToken(query: string): Promise<Response> {
  return h.registry(`/auth/token?service=${REGISTRY_HOST}&${query}`, { headers: { authorization: basic } });
}

async function postToken(form: string): Promise<Response> {
  return h.registry('/auth/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `grant_type=password&username=x&password=${h.token}&service=${REGISTRY_HOST}&${form}`,
  });
}

describe('several scopes in one request', () => {
  it('GET /auth/token reads every encoding as the same two scopes', async () => {
    for (const [what, query] of ENCODINGS) {
      const res = await getToken(query);
      expect(res.status, what).toBe(200);
      expect(accessOf(((await res.json()) as { token: string }).token), what).toEqual(BOTH);
    }
  });

  it('POST /auth/token reads every encoding as the same two scopes and names them in `scope`', async () => {
    for (const [what, form] of ENCODINGS) {
      const res = await postToken(form);
      expect(res.status, what).toBe(200);
      const body = (await res.json()) as { access_token: string; scope: string };
      expect(accessOf(body.access_token), what).toEqual(BOTH);
      expect(body.scope, what).toBe(`${A} ${B}`);
    }
  });

  it('`scope` in the POST answer lists what was granted, not what was asked', async () => {
    const res = await postToken(`scope=${encodeURIComponent(`${A} repository:elsewhere/x:pull`)}`);
    const body = (await res.json()) as { access_token: string; scope: string };
    expect(body.scope).toBe(A);
    expect(accessOf(body.access_token)).toEqual([BOTH[0]]);
  });
});

describe('the number of scopes', () => {
  const scopes = (n: number) => Array.from({ length: n }, (_, i) => `repository:scopes/r${i}:pull`);

  it('up to --max-token-scopes (50) are granted on GET and POST', async () => {
    const get = await getToken(scopes(50).map((s) => `scope=${encodeURIComponent(s)}`).join('&'));
    expect(get.status).toBe(200);
    expect(accessOf(((await get.json()) as { token: string }).token)).toHaveLength(50);
    const post = await postToken(`scope=${encodeURIComponent(scopes(50).join(' '))}`);
    expect(post.status).toBe(200);
    expect(accessOf(((await post.json()) as { access_token: string }).access_token)).toHaveLength(50);
  });

  it('more is 400 invalid_scope in the token endpoint’s shape, on GET and POST, however they are split', async () => {
    const requests = [
      () => getToken(scopes(51).map((s) => `scope=${encodeURIComponent(s)}`).join('&')),
      () => getToken(`scope=${encodeURIComponent(scopes(51).join(' '))}`),
      () => postToken(`scope=${encodeURIComponent(scopes(51).join(' '))}`),
      () => postToken(scopes(51).map((s) => `scope=${encodeURIComponent(s)}`).join('&')),
    ];
    for (const send of requests) {
      const res = await send();
      expect(res.status).toBe(400);
      const body = (await res.json()) as { errors: { code: string; message: string }[]; error: string; error_description: string; token?: string };
      expect(body.error).toBe('invalid_scope');
      expect(body.error_description).toBe('the request asks for 51 scopes; at most 50 are allowed in one token request');
      expect(body.errors).toEqual([{ code: 'UNSUPPORTED', message: body.error_description }]);
      expect(body.token).toBeUndefined();
    }
  });

  it('thousands of scopes never reach the token service: the request itself is too large', async () => {
    const many = scopes(2000);
    const get = await getToken(many.map((s) => `scope=${encodeURIComponent(s)}`).join('&'));
    expect(get.status).toBe(431);
    expect(((await get.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe('UNSUPPORTED');
    const post = await postToken(`scope=${encodeURIComponent(many.join(' '))}`);
    expect(post.status).toBe(413);
    const body = (await post.json()) as { errors: { code: string }[]; error: string; error_description: string };
    expect([body.errors[0]!.code, body.error]).toEqual(['SIZE_INVALID', 'invalid_request']);
    expect(body.error_description).toMatch(/limit of 16384 bytes|the limit is 16384/);
  });

  it('the cap is configurable', async () => {
    const small = await startHarness({ maxTokenScopes: '2' });
    try {
      await small.createRegistry('capped');
      const auth = `Basic ${Buffer.from(`x:${small.token}`).toString('base64')}`;
      const ask = (n: number) => small.registry(`/auth/token?service=${REGISTRY_HOST}&scope=${encodeURIComponent(Array.from({ length: n }, (_, i) => `repository:capped/r${i}:pull`).join(' '))}`, { headers: { authorization: auth } });
      expect((await ask(2)).status).toBe(200);
      expect((await ask(3)).status).toBe(400);
    } finally {
      await small.close();
    }
  });
});
