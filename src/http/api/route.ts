import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema, HTTPMethods } from 'fastify';
import type { ApiScope, Principal } from '../../auth/index.js';
import type { AppContext } from '../../context.js';
import type { Registry, Team } from '../../db/index.js';
import { AppError } from '../../errors/index.js';
import { apiPrincipal, requireScopes } from './auth.js';
import { COUNTED_AFTER_AUTH, countAnonymous, countIdentified } from './rate-limit.js';

/** What an API handler receives after authentication and the scope check. */
export interface ApiCall<P = Record<string, string>, Q = Record<string, unknown>, B = unknown> {
  ctx: AppContext;
  req: FastifyRequest;
  reply: FastifyReply;
  principal: Principal;
  team: Team;
  params: P;
  query: Q;
  body: B;
  /** The team's registry named in the path; another team's is reported as not found. */
  registry(name: string): Promise<Registry>;
}

export interface ApiRoute<P, Q, B> {
  method: HTTPMethods;
  url: string;
  operationId: string;
  summary: string;
  tag: 'Container Registries' | 'Container Registry';
  scopes: ApiScope[];
  deprecated?: boolean;
  params?: object;
  querystring?: object;
  body?: object;
  /** The body may be absent altogether (DigitalOcean's clients send none for some POSTs). */
  bodyOptional?: boolean;
  /** Success status and its body schema (undefined for 204). */
  success: { status: number; schema?: object; description: string };
  extraErrors?: number[];
  handler(call: ApiCall<P, Q, B>): Promise<unknown>;
}

const ERROR_REF = { $ref: 'Error#' };

const JSON_TYPES: Record<string, (v: unknown) => boolean> = {
  string: (v) => typeof v === 'string',
  boolean: (v) => typeof v === 'boolean',
  integer: (v) => Number.isInteger(v),
  number: (v) => typeof v === 'number',
  array: (v) => Array.isArray(v),
  object: (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
};

/**
 * JSON bodies carry their own types, so a wrong one is refused (422 naming the field) instead
 * of being coerced as Fastify's validator does for query strings: `{"name": true}` must not
 * create a registry called "true", nor `{"cancel": 1}` cancel a run. Our bodies are flat.
 */
function assertJsonTypes(schema: object, body: unknown): void {
  const properties = (schema as { properties?: Record<string, { type?: string }> }).properties;
  if (!properties || typeof body !== 'object' || body === null || Array.isArray(body)) return;
  for (const [field, value] of Object.entries(body as Record<string, unknown>)) {
    const type = properties[field]?.type;
    if (type && JSON_TYPES[type] && !JSON_TYPES[type](value)) throw new AppError('UNPROCESSABLE', `${field}: must be ${type === 'integer' ? 'an' : 'a'} ${type}`);
  }
}

/**
 * Ajv coerces `1e400` to Infinity and then lets it through `integer` and `maximum` alike; it
 * would reach the database as an offset. Numeric query parameters must at least be finite.
 */
function assertFiniteNumbers(schema: object, query: unknown): void {
  const properties = (schema as { properties?: Record<string, { type?: string }> }).properties ?? {};
  for (const [name, value] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    const type = properties[name]?.type;
    if ((type === 'integer' || type === 'number') && typeof value === 'string' && value.trim() !== '') {
      const n = Number(value);
      // Worded like Ajv's own messages, which answer every other bad number.
      if (Number.isNaN(n)) throw new AppError('BAD_REQUEST', `${name}: must be ${type}`);
      if (!Number.isFinite(n)) throw new AppError('BAD_REQUEST', `${name}: is out of range`);
    }
  }
}

/**
 * Registers one operation: its schema (validation, serialisation and OpenAPI at once), then
 * bearer authentication and the scope check before the handler runs.
 */
export function defineRoute<P = Record<string, string>, Q = Record<string, unknown>, B = unknown>(
  app: FastifyInstance,
  ctx: AppContext,
  route: ApiRoute<P, Q, B>,
): void {
  const response: Record<string, unknown> = { [route.success.status]: route.success.schema ? { description: route.success.description, ...route.success.schema } : { description: route.success.description, type: 'null' } };
  for (const status of [400, 401, 403, 404, 429, 500, ...(route.extraErrors ?? [])]) response[status] = ERROR_REF;
  const schema: FastifySchema & Record<string, unknown> = {
    operationId: route.operationId,
    summary: route.summary,
    tags: [route.tag],
    security: [{ bearer_auth: route.scopes }],
    response,
  };
  if (route.deprecated) schema.deprecated = true;
  if (route.params) schema.params = route.params;
  if (route.querystring) schema.querystring = route.querystring;
  if (route.body) schema.body = route.body;

  app.route({
    method: route.method,
    url: route.url,
    schema,
    config: COUNTED_AFTER_AUTH,
    // Authenticate before parsing and validating: without a valid token nothing else is
    // revealed. Then count the request against the token's limit, or, when there is no valid
    // token, against the client address's (in memory: a flood of bad tokens writes nothing).
    onRequest: async (req, reply) => {
      let principal: Principal;
      try {
        principal = await apiPrincipal(ctx, req);
      } catch (err) {
        countAnonymous(ctx.rateLimits, req, reply);
        throw err;
      }
      await countIdentified(ctx.rateLimits, principal, reply);
      requireScopes(principal, ...route.scopes);
      (req as unknown as { principal?: Principal }).principal = principal;
    },
    preValidation: async (req) => {
      if (route.querystring) assertFiniteNumbers(route.querystring, req.query);
      if (route.body && req.body === undefined) {
        if (!route.bodyOptional) throw new AppError('BAD_REQUEST', 'the request body is empty; send a JSON object');
        req.body = {};
      }
      if (route.body) assertJsonTypes(route.body, req.body);
    },
    handler: async (req, reply) => {
      const principal = (req as unknown as { principal: Principal }).principal;
      const team = (await ctx.teams.byId(principal.teamId))!;
      const result = await route.handler({
        ctx,
        req,
        reply,
        principal,
        team,
        params: req.params as P,
        query: req.query as Q,
        body: req.body as B,
        registry: (name) => ctx.registries.getForTeam(principal.teamId, name),
      });
      reply.status(route.success.status);
      return route.success.status === 204 ? reply.send() : reply.send(result);
    },
  });
}
