/**
 * What every client command starts from: the global flags (doctl's persistent flags) merged
 * with the environment and the configuration file, and the API client they configure.
 *
 * Precedence, as doctl's viper gives it: flag, then environment (`BERTH_ACCESS_TOKEN`,
 * `BERTH_API_URL`, `BERTH_CONTEXT`), then the context in the configuration file.
 */
import { createApiClient, type ApiClient, type TraceEvent } from '../../api-client/index.js';
import { DEFAULT_CONTEXT, defaultConfigPath, readConfigFile, type ConfigFile, type ContextEntry } from './config-file.js';
import { CliError } from './errors.js';
import type { ClientIo } from './io.js';
import type { OutputType } from './output/display.js';

/** Where Berth's API listens unless told otherwise (`berth serve`'s default). */
export const DEFAULT_API_URL = 'http://127.0.0.1:8080';
/** doctl's default for --http-retry-max. */
export const DEFAULT_RETRY_MAX = 5;

/** The global flags as commander parsed them. */
export interface GlobalFlags {
  accessToken?: string;
  apiUrl?: string;
  context?: string;
  config?: string;
  output?: string;
  trace?: boolean;
  httpRetryMax?: string;
  httpRetryWaitMax?: string;
  interactive?: boolean;
}

export class Session {
  readonly output: OutputType;
  readonly interactive: boolean;
  readonly trace: boolean;
  readonly retryMax: number;
  readonly retryWaitMaxMs: number;
  /** The context in use (lower case, as doctl keeps them). */
  readonly contextName: string;
  readonly configPath: string;
  /** The last HTTP exchange, to name the request in an error message. */
  lastExchange: TraceEvent | undefined;
  private client: ApiClient | undefined;

  private constructor(
    readonly io: ClientIo,
    readonly flags: GlobalFlags,
    readonly config: ConfigFile,
    configPath: string,
  ) {
    this.output = parseOutput(flags.output);
    this.interactive = flags.interactive ?? Boolean(io.stdout.isTTY && io.stderr.isTTY);
    this.trace = flags.trace ?? false;
    this.retryMax = parseCount(flags.httpRetryMax, 'http-retry-max', DEFAULT_RETRY_MAX);
    this.retryWaitMaxMs = parseCount(flags.httpRetryWaitMax, 'http-retry-wait-max', 30) * 1000;
    this.contextName = (flags.context ?? io.env.BERTH_CONTEXT ?? config.context ?? DEFAULT_CONTEXT).toLowerCase();
    this.configPath = configPath;
  }

  static async open(io: ClientIo, flags: GlobalFlags): Promise<Session> {
    // Parse the cheap flags first so that a bad -o fails before any file is read.
    parseOutput(flags.output);
    parseCount(flags.httpRetryMax, 'http-retry-max', DEFAULT_RETRY_MAX);
    parseCount(flags.httpRetryWaitMax, 'http-retry-wait-max', 30);
    const configPath = flags.config ?? defaultConfigPath(io.env);
    return new Session(io, flags, await readConfigFile(configPath), configPath);
  }

  /** The stored entry of the current context, if any. */
  get storedContext(): ContextEntry | undefined {
    return this.config['auth-contexts']?.[this.contextName];
  }

  /** `--api-url`, `BERTH_API_URL`, the context's URL, or Berth's default. */
  get apiUrl(): string {
    return (this.flags.apiUrl ?? this.io.env.BERTH_API_URL ?? this.storedContext?.['api-url'] ?? DEFAULT_API_URL).replace(/\/+$/, '');
  }

  /** `--access-token`, `BERTH_ACCESS_TOKEN` or the context's token. */
  get accessToken(): string | undefined {
    return this.flags.accessToken ?? this.io.env.BERTH_ACCESS_TOKEN ?? this.storedContext?.['access-token'] ?? undefined;
  }

  /** The token the API calls use; a clear error when there is none. */
  requireToken(): string {
    const token = this.accessToken;
    if (token) return token;
    if (this.contextName !== DEFAULT_CONTEXT && !this.storedContext) {
      throw new CliError(`context "${this.contextName}" does not exist in ${this.configPath}; create it with 'berth auth init --context ${this.contextName}'`);
    }
    const init = this.contextName === DEFAULT_CONTEXT ? 'berth auth init' : `berth auth init --context ${this.contextName}`;
    throw new CliError(`no access token for context "${this.contextName}": run '${init}', or pass --access-token or set BERTH_ACCESS_TOKEN`);
  }

  /** The API client for this context, with tracing and doctl's retries. */
  api(): ApiClient {
    this.client ??= this.apiWithToken(this.requireToken());
    return this.client;
  }

  /** A client for another URL and token (`auth init` checks the ones it was given). */
  apiWithToken(token: string, baseUrl = this.apiUrl): ApiClient {
    return createApiClient({ ...this.clientOptions(baseUrl), token });
  }

  /** Options shared by every request this session makes (also revocations). */
  clientOptions(baseUrl = this.apiUrl) {
    return {
      baseUrl,
      retryMax: this.retryMax,
      retryWaitMaxMs: this.retryWaitMaxMs,
      headers: { 'user-agent': 'berth-cli' },
      onTrace: (event: TraceEvent) => {
        this.lastExchange = event;
        if (this.trace) this.io.stderr.write(`${traceLine(event)}\n`);
      },
    };
  }

  warn(message: string): void {
    this.io.stderr.write(`Warning: ${message}\n`);
  }

  notice(message: string): void {
    this.io.stderr.write(`Notice: ${message}\n`);
  }
}

/** `--trace`: one line per HTTP attempt (the token is never printed). */
export function traceLine(event: TraceEvent): string {
  const attempt = event.attempt > 0 ? ` (attempt ${event.attempt + 1})` : '';
  const outcome = event.status !== undefined ? String(event.status) : `error: ${event.error ?? 'no answer'}`;
  const request = event.requestId ? `, request ${event.requestId}` : '';
  return `trace: ${event.method} ${event.url}${attempt} -> ${outcome} (${event.ms} ms${request})`;
}

function parseOutput(value: string | undefined): OutputType {
  const output = value ?? 'text';
  if (output !== 'text' && output !== 'json') throw new CliError(`unknown output type "${output}": use text or json`);
  return output;
}

function parseCount(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new CliError(`invalid argument "${value}" for "--${flag}" flag: not a non-negative integer`);
  return Number(value);
}
