// Minimal HTTP/1.1 client on node:http with streamed request bodies and
// precise error reports (the exact request and response) for server bugs.
import http from 'node:http';
import { createHash } from 'node:crypto';

const BODY_SNIPPET = 4096;

export class HttpError extends Error {
  constructor(message, info) {
    super(message);
    this.name = 'HttpError';
    this.info = info;
  }
}

function redact(headers) {
  const out = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (k.toLowerCase() === 'authorization') {
      const s = String(v);
      const sp = s.indexOf(' ');
      out[k] = sp > 0 ? `${s.slice(0, sp)} <redacted>` : '<redacted>';
    } else out[k] = v;
  }
  return out;
}

/** Multi-line description of a failed exchange, suitable for a bug report. */
export function describeError(err) {
  if (!(err instanceof HttpError)) {
    if (err instanceof Error) return err.name === 'Error' ? err.message : String(err.stack);
    return String(err);
  }
  const i = err.info ?? {};
  const lines = [`${err.message}`, `> ${i.method} ${i.url}`];
  for (const [k, v] of Object.entries(i.requestHeaders ?? {})) lines.push(`> ${k}: ${v}`);
  if (i.requestBody !== undefined) lines.push(`> (body) ${i.requestBody}`);
  if (i.status !== undefined) {
    lines.push(`< HTTP ${i.status} ${i.statusMessage ?? ''}`.trimEnd());
    for (const [k, v] of Object.entries(i.responseHeaders ?? {})) lines.push(`< ${k}: ${v}`);
    if (i.responseBody) lines.push(`< (body) ${i.responseBody}`);
  }
  if (i.cause) lines.push(`cause: ${i.cause}`);
  return lines.join('\n');
}

function describeBody(body) {
  if (body == null) return undefined;
  if (typeof body === 'string') return body.length > BODY_SNIPPET ? `${body.slice(0, BODY_SNIPPET)}…` : body;
  if (Buffer.isBuffer(body)) {
    if (body.length <= BODY_SNIPPET && isPrintable(body)) return body.toString('utf8');
    return `<${body.length} bytes>`;
  }
  return '<streamed body>';
}

function isPrintable(buf) {
  for (const b of buf) if (b < 9 || (b > 13 && b < 32)) return false;
  return true;
}

/**
 * Send one request.
 * @param {object} o
 * @param {string|URL} o.url
 * @param {string} [o.method]
 * @param {object} [o.headers]
 * @param {Buffer|string|Iterable<Buffer>|null} [o.body] an iterable is streamed with back-pressure
 * @param {http.Agent} o.agent
 * @param {number[]} [o.expect] acceptable statuses; anything else rejects with HttpError
 * @param {'buffer'|'discard'|'sha256'} [o.read]
 * @param {number} [o.timeoutMs] socket idle timeout
 * @returns {Promise<{status:number, headers:object, body?:Buffer, bytes:number, sha256?:string}>}
 */
export function request(o) {
  const { method = 'GET', headers = {}, body = null, agent, expect = null, read = 'buffer', timeoutMs = 60_000 } = o;
  const url = o.url instanceof URL ? o.url : new URL(o.url);
  const info = { method, url: url.href, requestHeaders: redact(headers), requestBody: describeBody(body) };
  return new Promise((resolve, reject) => {
    let settled = false;
    let bodySent = body == null || typeof body === 'string' || Buffer.isBuffer(body);
    const req = http.request(url, { method, headers, agent });
    const fail = (err) => {
      if (settled) return;
      settled = true;
      req.destroy();
      reject(err);
    };
    req.setTimeout(timeoutMs, () => fail(new HttpError(`no activity for ${timeoutMs} ms`, info)));
    req.on('error', (e) => fail(new HttpError(`request failed: ${e.code ?? e.message}`, { ...info, cause: e.message })));
    req.on('response', (res) => {
      const rinfo = { ...info, status: res.statusCode, statusMessage: res.statusMessage, responseHeaders: res.headers };
      const chunks = [];
      let bytes = 0;
      const hash = read === 'sha256' ? createHash('sha256') : null;
      res.on('data', (c) => {
        bytes += c.length;
        if (hash) hash.update(c);
        else if (read === 'buffer' || (expect && !expect.includes(res.statusCode))) chunks.push(c);
      });
      res.on('error', (e) => fail(new HttpError(`response failed: ${e.code ?? e.message}`, { ...rinfo, cause: e.message })));
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        if (expect && !expect.includes(res.statusCode)) {
          const text = buf.toString('utf8');
          return fail(new HttpError(`unexpected status ${res.statusCode} (expected ${expect.join('/')})`, {
            ...rinfo,
            responseBody: text.length > BODY_SNIPPET ? `${text.slice(0, BODY_SNIPPET)}…` : text,
          }));
        }
        if (!bodySent) {
          return fail(new HttpError(`server sent ${res.statusCode} before the request body was fully sent`, rinfo));
        }
        if (settled) return;
        settled = true;
        resolve({
          status: res.statusCode,
          headers: res.headers,
          body: read === 'buffer' ? buf : undefined,
          bytes,
          sha256: hash ? `sha256:${hash.digest('hex')}` : undefined,
          info: rinfo,
        });
      });
    });
    if (bodySent) {
      req.end(body ?? undefined);
      return;
    }
    pump(req, body, () => settled).then(
      () => { bodySent = true; },
      (e) => fail(new HttpError(`streaming the request body failed: ${e.message}`, { ...info, cause: e.message })),
    );
  });
}

async function pump(req, iterable, stopped) {
  for (const chunk of iterable) {
    if (stopped() || req.destroyed) return;
    if (!req.write(chunk)) {
      await new Promise((resolve) => {
        const done = () => {
          req.off('drain', done);
          req.off('close', done);
          resolve();
        };
        req.on('drain', done);
        req.on('close', done);
      });
    }
  }
  if (!stopped() && !req.destroyed) req.end();
}

/** Throws an HttpError describing `res` when `cond` is false (a protocol violation in a 2xx answer). */
export function check(cond, message, res) {
  if (cond) return;
  const info = { ...res.info };
  if (res.body) info.responseBody = describeBody(res.body);
  throw new HttpError(message, info);
}

export function newAgent(sockets) {
  return new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
}
