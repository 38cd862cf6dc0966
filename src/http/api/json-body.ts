import type { FastifyInstance } from 'fastify';

/**
 * JSON bodies on the API listener, where "no body" is a normal request: godo (doctl) sends
 * `Content-Type: application/json` on every non-GET request, DELETEs and the body-less garbage
 * collection start included, and DigitalOcean's own curl examples do the same. An empty body
 * (no bytes, `Content-Length: 0` or a zero-length chunked body, or only whitespace) parses as
 * no body; routes that need one say so. Anything else goes to Fastify's own JSON parser (which
 * refuses `__proto__` and `constructor` poisoning).
 */
export function acceptBodylessJson(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if ((body as string).trim() === '') {
      done(null, undefined);
      return;
    }
    parseJson(req, body as string, done);
  });
  // A body-less POST (dots' GC start) arrives with no content type; other types carry no JSON.
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
}
