import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, redactText } from './logging.js';

const TOKEN = `dop_v1_${'ab12'.repeat(16)}`;
const JWT = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';

/** A real pino logger writing into memory; returns the parsed lines. */
function capture(logFormat: 'json' | 'pretty' = 'json'): { logger: ReturnType<typeof createLogger>; lines: () => string[] } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = createLogger({ logLevel: 'debug', logFormat }, sink);
  return { logger, lines: () => chunks.join('').split('\n').filter(Boolean) };
}

describe('the logger', () => {
  it('redacts secret query parameters, tokens, JWTs and credentials in any string', () => {
    const cases: [string, string][] = [
      [`/v1/oauth/revoke?token=${TOKEN}`, '/v1/oauth/revoke?token=[REDACTED]'],
      ['/x?a=1&access_token=s1&refresh_token=s2&password=s3&client_secret=s4&b=2', '/x?a=1&access_token=[REDACTED]&refresh_token=[REDACTED]&password=[REDACTED]&client_secret=[REDACTED]&b=2'],
      ['/x?%74oken=s5&Password=s6', '/x?%74oken=[REDACTED]&Password=[REDACTED]'],
      ['grant_type=password&password=s7&username=u', 'grant_type=password&password=[REDACTED]&username=u'],
      [`the token ${TOKEN} is revoked`, 'the token dop_v1_[REDACTED] is revoked'],
      [`Authorization: Bearer ${JWT}`, 'Authorization: Bearer [REDACTED]'],
      ['basic dXNlcjpwYXNz', 'basic [REDACTED]'],
      [`jwt ${JWT} here`, 'jwt [REDACTED] here'],
      ['/v2/registries?page=2&per_page=20', '/v2/registries?page=2&per_page=20'],
    ];
    for (const [input, output] of cases) expect(redactText(input), input).toBe(output);
  });

  it('redacts log objects, error objects carrying URLs and headers, and never dumps raw bytes', () => {
    const { logger, lines } = capture();
    const err = Object.assign(new Error(`GET /x?token=${TOKEN} failed`), {
      url: '/x?access_token=secret-a',
      headers: { Authorization: `Bearer ${TOKEN}`, cookie: 'session=secret-b', 'proxy-authorization': 'Basic c2VjcmV0', accept: 'application/json' },
      rawPacket: Buffer.from(`GET /?password=secret-c HTTP/1.1\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`),
      cause: new Error('inner: password=secret-d'),
    });
    logger.error({ err, url: '/y?refresh_token=secret-e', req: { headers: { authorization: 'Basic eDp5', 'x-request-id': 'abc' } } }, `failed with ${TOKEN}`);
    const [line] = lines();
    for (const secret of [TOKEN, 'secret-a', 'secret-b', 'c2VjcmV0', 'secret-c', 'secret-d', 'secret-e', 'eDp5']) expect(line, secret).not.toContain(secret);
    const parsed = JSON.parse(line!) as { msg: string; err: Record<string, unknown>; req: { headers: Record<string, string> } };
    expect(parsed.msg).toBe('failed with dop_v1_[REDACTED]');
    expect(parsed.err.type).toBe('Error');
    expect(parsed.err.message).toBe('GET /x?token=[REDACTED] failed: inner: password=[REDACTED]');
    expect(parsed.err.rawPacket).toMatch(/^\[\d+ bytes\]$/);
    expect(parsed.err.headers).toEqual({ Authorization: '[REDACTED]', cookie: '[REDACTED]', 'proxy-authorization': '[REDACTED]', accept: 'application/json' });
    expect(parsed.req.headers).toEqual({ authorization: '[REDACTED]', 'x-request-id': 'abc' });
  });

  it('redacts the readable format too, and leads its lines with the request id', () => {
    const { logger, lines } = capture('pretty');
    logger.child({ listener: 'api' }).info({ request_id: 'req-1', method: 'GET', url: `/v1/oauth/revoke?token=${TOKEN}`, status: 200, ms: 3 }, 'request');
    logger.warn({ headers: { authorization: `Bearer ${JWT}` } }, `token ${TOKEN} refused`);
    const [request, warning] = lines();
    expect(request).toMatch(/^\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO: \[req-1\] api: request GET \/v1\/oauth\/revoke\?token=\[REDACTED\] 200 3ms$/);
    expect(warning).toContain('token dop_v1_[REDACTED] refused');
    for (const line of [request, warning]) {
      expect(line).not.toContain(TOKEN);
      expect(line).not.toContain(JWT);
      expect(line).not.toContain('\u001b[');
    }
  });
});
