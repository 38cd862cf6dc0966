/**
 * Running the `berth` client in tests: in-process through `runCli` with its own streams and
 * environment (fast, for the many command × output-mode cases), or as the real binary
 * (`node dist/main.js`, for exit statuses, terminals and real container clients). Golden files
 * hold the text tables; only what truly varies (times, uuids, request ids, ports) is normalised,
 * and callers assert those values separately.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { expect } from 'vitest';
import { runCli } from '../../src/cli/index.js';
import type { ClientEnv } from '../../src/cli/client/index.js';
import { run, type RunResult } from '../support/exec.js';
import { MAIN_JS, REPO_ROOT } from '../support/server.js';
import { makeTempDir } from '../support/tmp.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A user's machine: its own HOME, config dir, runtime dir (auth.json) and Docker config dir. */
export interface Machine {
  home: string;
  env: ClientEnv;
  configFile: string;
  dockerConfig: string;
  containersAuth: string;
}

export async function newMachine(): Promise<Machine> {
  const home = await makeTempDir('home');
  const env: ClientEnv = {
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_RUNTIME_DIR: join(home, 'run'),
    PATH: process.env.PATH,
  };
  await mkdir(env.XDG_RUNTIME_DIR!, { recursive: true });
  return {
    home,
    env,
    configFile: join(home, '.config', 'berth', 'config.yaml'),
    dockerConfig: join(home, '.docker', 'config.json'),
    containersAuth: join(home, 'run', 'containers', 'auth.json'),
  };
}

/** Runs `berth …args` in this process; `input` is what the user types (stdin is a pipe). */
export async function berthIn(machine: Machine, args: string[], options: { input?: string; env?: ClientEnv } = {}): Promise<CliResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
  stdin.end(options.input ?? '');
  const code = await runCli(['node', 'berth', ...args], { stdout, stderr, stdin, env: { ...machine.env, ...options.env }, uid: process.getuid?.() ?? 0 });
  return { code, stdout: out, stderr: err };
}

/** The environment of a child `berth`: the machine's, nothing of the developer's BERTH_* or docker settings. */
export function childEnv(machine: Machine, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('BERTH_') || ['DOCKER_CONFIG', 'REGISTRY_AUTH_FILE', 'XDG_CONFIG_HOME', 'XDG_RUNTIME_DIR', 'HOME'].includes(key)) continue;
    env[key] = value;
  }
  return { ...env, ...machine.env, ...extra } as NodeJS.ProcessEnv;
}

/** Runs the real binary. */
export function berthBinary(machine: Machine, args: string[], options: { env?: Record<string, string>; input?: string } = {}): Promise<RunResult> {
  return run(process.execPath, [MAIN_JS, ...args], { cwd: REPO_ROOT, env: childEnv(machine, options.env), input: options.input, timeoutMs: 60_000 });
}

export function describeCli(args: string[], result: CliResult | RunResult): string {
  return `$ berth ${args.join(' ')}\n(exit ${'code' in result ? result.code : ''})\n--- stdout\n${result.stdout}--- stderr\n${result.stderr}`;
}

/** Runs and expects exit status 0. */
export async function berthOk(machine: Machine, args: string[], options: { input?: string; env?: ClientEnv } = {}): Promise<CliResult> {
  const result = await berthIn(machine, args, options);
  expect(result.code, describeCli(args, result)).toBe(0);
  return result;
}

/** Go's time.String() of an RFC 3339 UTC time, as doctl prints times (29 characters). */
export const GO_TIME = /\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)? \+0000 UTC/g;
export const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/**
 * Replaces what varies from run to run with placeholders of the same width (so the golden
 * tables stay aligned): times, uuids, request ids, the API's port.
 */
export function normalize(text: string, extra: [RegExp | string, string][] = []): string {
  let out = text.replace(GO_TIME, 'YYYY-MM-DD hh:mm:ss +0000 UTC').replace(/\(request "[^"]+"\)/g, '(request "<request-id>")').replace(UUID, 'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx');
  out = out.replace(/http:\/\/127\.0\.0\.1:\d+/g, 'http://127.0.0.1:<port>');
  for (const [pattern, replacement] of extra) out = typeof pattern === 'string' ? out.replaceAll(pattern, replacement) : out.replace(pattern, replacement);
  return out;
}

const GOLDEN_DIR = new URL('./golden/', import.meta.url);

/**
 * Compares text with test/cli/golden/<name>.txt. With BERTH_TEST_UPDATE_GOLDEN=1 the file is
 * (re)written instead, to review in the diff.
 */
export function expectGolden(name: string, text: string): void {
  const file = new URL(`${name}.txt`, GOLDEN_DIR);
  if (process.env.BERTH_TEST_UPDATE_GOLDEN === '1' || !existsSync(file)) {
    if (process.env.CI && !existsSync(file)) throw new Error(`golden file ${file.pathname} is missing`);
    writeFileSync(file, text);
    return;
  }
  expect(text, `golden ${name}.txt (set BERTH_TEST_UPDATE_GOLDEN=1 to rewrite)`).toBe(readFileSync(file, 'utf8'));
}

/**
 * Bytes that are the same on every run (`seed` picks which): half hash output, half zeros,
 * so that gzip really compresses them.
 */
export function fixedBytes(seed: string, size: number): Buffer {
  const chunks: Buffer[] = [];
  let block = createHash('sha256').update(seed).digest();
  for (let n = 0; n < Math.floor(size / 2); n += block.length) {
    chunks.push(block);
    block = createHash('sha256').update(block).digest();
  }
  return Buffer.concat([Buffer.concat(chunks).subarray(0, Math.floor(size / 2)), Buffer.alloc(size - Math.floor(size / 2))]);
}

/** A gzip layer whose bytes (and so digest) are the same on every run. */
export function fixedLayer(seed: string, rawSize: number): { bytes: Buffer; uncompressed: number } {
  const raw = fixedBytes(seed, rawSize);
  return { bytes: gzipSync(raw), uncompressed: raw.length };
}
