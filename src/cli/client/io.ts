/**
 * Everything the client commands touch outside themselves: the streams, the environment and
 * the file-system roots. `berth` passes the process's own; tests pass their own to run the
 * client in-process against a real server.
 */
import type { Readable, Writable } from 'node:stream';

/** A writable stream that may be a terminal (process.stdout is). */
export type Output = Writable & { isTTY?: boolean };
/** A readable stream that may be a terminal in raw mode (process.stdin is). */
export type Input = Readable & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };

/**
 * The environment variables the client reads. Server settings live in config/ (SETTINGS); these
 * belong to the client program, which runs on a user's machine rather than beside the server.
 */
export interface ClientEnv {
  BERTH_ACCESS_TOKEN?: string;
  BERTH_API_URL?: string;
  BERTH_CONTEXT?: string;
  HOME?: string;
  XDG_CONFIG_HOME?: string;
  XDG_RUNTIME_DIR?: string;
  DOCKER_CONFIG?: string;
  REGISTRY_AUTH_FILE?: string;
  PATH?: string;
}

export interface ClientIo {
  stdout: Output;
  stderr: Output;
  stdin: Input;
  env: ClientEnv;
  /** The numeric user id, for podman's fallback auth path `/run/containers/<uid>/auth.json`. */
  uid: number;
}

const CLIENT_VARIABLES: (keyof ClientEnv)[] = [
  'BERTH_ACCESS_TOKEN',
  'BERTH_API_URL',
  'BERTH_CONTEXT',
  'HOME',
  'XDG_CONFIG_HOME',
  'XDG_RUNTIME_DIR',
  'DOCKER_CONFIG',
  'REGISTRY_AUTH_FILE',
  'PATH',
];

/** Picks the client's variables out of a full environment. */
export function clientEnv(env: Record<string, string | undefined>): ClientEnv {
  const picked: ClientEnv = {};
  for (const name of CLIENT_VARIABLES) {
    const value = env[name];
    if (value !== undefined && value !== '') picked[name] = value;
  }
  return picked;
}

/** Writes text to a stream (no newline added). */
export function write(out: Output, text: string): void {
  out.write(text);
}
