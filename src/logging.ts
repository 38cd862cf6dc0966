import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { Config } from './config/index.js';

/** What the logger needs of the configuration. */
export type LogSettings = Pick<Config, 'logLevel'> & Partial<Pick<Config, 'logFormat'>>;

/**
 * The process logger. Every line passes through one redaction step, so no code path (access
 * log, error log, a library's error carrying a request) can write a credential: query
 * parameters that carry secrets, credential headers, DigitalOcean-style tokens, JWTs and
 * `Bearer`/`Basic` values are replaced, and raw buffers (Node's `rawPacket` of a malformed
 * request holds its headers) are never dumped.
 *
 * JSON lines for machines by default; for people (`--log-format pretty`, or `auto` on a
 * terminal) one line per event with the request id up front, coloured on a terminal. Redaction
 * happens before either format is written.
 */
export function createLogger(settings: LogSettings, destination?: pino.DestinationStream, stdoutIsTty = process.stdout.isTTY === true): Logger {
  const options: pino.LoggerOptions = {
    level: settings.logLevel,
    base: { service: 'berth' },
    formatters: { log: (object) => redact(object) as Record<string, unknown> },
    // Errors were serialised and redacted by the formatter above; do not serialise them twice.
    serializers: { err: (value: unknown) => value },
    hooks: {
      logMethod(args, method) {
        method.apply(this, args.map((a) => (typeof a === 'string' ? redactText(a) : a)) as Parameters<typeof method>);
      },
    },
  };
  const format = (settings.logFormat ?? 'json') === 'auto' ? (stdoutIsTty && !destination ? 'pretty' : 'json') : (settings.logFormat ?? 'json');
  if (format === 'pretty') return pino(options, prettyStream(stdoutIsTty && !destination, destination ?? 1));
  return destination ? pino(options, destination) : pino(options);
}

/** A synchronous pino-pretty stream (no worker thread, so it works from any install). */
export function prettyStream(colorize: boolean, destination: NodeJS.WritableStream | pino.DestinationStream | number = 1): pino.DestinationStream {
  return pretty({
    colorize,
    sync: true,
    destination: destination as NodeJS.WritableStream | number,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service,request_id,listener,method,url,status,ms',
    // The request id leads the line so a person can follow one request through the log; the
    // request line reads like an access log. Other fields follow as compact JSON.
    messageFormat: '{if request_id}[{request_id}] {end}{if listener}{listener}: {end}{msg}{if method} {method} {url} {status} {ms}ms{end}',
    singleLine: true,
  });
}

export const REDACTED = '[REDACTED]';

/** Query parameters and object keys whose values are secrets. */
const SECRET_NAMES = new Set(['token', 'access_token', 'refresh_token', 'id_token', 'password', 'client_secret', 'secret', 'authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-registry-auth']);

const PATTERNS: [RegExp, string][] = [
  // DigitalOcean tokens (dop_v1_, doo_v1_ …) wherever they appear.
  [/\bdo[a-z]_v1_[A-Za-z0-9]+/g, `dop_v1_${REDACTED}`],
  // JWTs: three base64url parts, the first a JSON header.
  [/\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, REDACTED],
  // Credentials written out as an Authorization value.
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, `$1 ${REDACTED}`],
];

/** `name=value` pairs in URLs, query strings, form bodies and prose; the name may be percent-encoded. */
const PARAMETER = /([?&;\s"'(,]|^)([^=&;?#\s"'(,]+)=([^&;#\s"']*)/g;

function isSecretName(raw: string): boolean {
  let name = raw;
  try {
    name = decodeURIComponent(raw.replaceAll('+', ' '));
  } catch {
    // a malformed escape is compared as written
  }
  return SECRET_NAMES.has(name.trim().toLowerCase());
}

/** Redacts secrets inside one string: secret query parameters, tokens, JWTs, credentials. */
export function redactText(text: string): string {
  let out = text.replace(PARAMETER, (whole, lead: string, name: string) => (isSecretName(name) ? `${lead}${name}=${REDACTED}` : whole));
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/** A deep copy of a log object with every secret redacted; errors become plain objects. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 8) return '[…]';
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Error) return redact(pino.stdSerializers.err(value), depth);
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    out[key] = isSecretName(key) && v !== undefined && v !== null && v !== '' ? REDACTED : redact(v, depth + 1);
  }
  return out;
}
