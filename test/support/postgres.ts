/**
 * A throw-away PostgreSQL 15 cluster on 127.0.0.1 (recipe from TESTING.md): initdb with
 * trust auth and no fsync, started with pg_ctl as the `postgres` user when we are root.
 * Used by postgres-global-setup.ts; it has no vitest imports so tools can reuse it.
 */
import { execFile } from 'node:child_process';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../scripts/lib/free-port.mjs';
import { findExecutable } from './tools.js';

export { freePort };

const execFileAsync = promisify(execFile);

/** Where initdb/pg_ctl live; BERTH_TEST_POSTGRES_BIN overrides it (e.g. a non-Debian machine). */
export const POSTGRES_BIN = process.env.BERTH_TEST_POSTGRES_BIN ?? '/usr/lib/postgresql/15/bin';

/** The PostgreSQL binaries the cluster needs that are missing on this machine. */
export function missingPostgresTools(): string[] {
  const needed = [join(POSTGRES_BIN, 'initdb'), join(POSTGRES_BIN, 'pg_ctl'), join(POSTGRES_BIN, 'postgres')];
  if (isRoot()) needed.push('runuser');
  return needed.filter((tool) => findExecutable(tool) === undefined);
}

export interface PostgresCluster {
  /** Superuser URL of the `postgres` database, e.g. postgres://postgres@127.0.0.1:PORT/postgres */
  url: string;
  port: number;
  dir: string;
  stop(): Promise<void>;
  /** Stops the server (fast shutdown: connections are cut) and keeps its data, to simulate an outage. */
  pause(): Promise<void>;
  /** Starts a paused server again on the same port with the same data. */
  resume(): Promise<void>;
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

async function lookupIds(user: string): Promise<{ uid: number; gid: number }> {
  const uid = Number((await execFileAsync('id', ['-u', user])).stdout.trim());
  const gid = Number((await execFileAsync('id', ['-g', user])).stdout.trim());
  return { uid, gid };
}

/** Runs a PostgreSQL binary, as the postgres user when we are root (the server refuses root). */
async function pgExec(tool: string, args: string[], timeoutMs = 60_000): Promise<string> {
  const binary = join(POSTGRES_BIN, tool);
  const [command, argv] = isRoot() ? ['runuser', ['-u', 'postgres', '--', binary, ...args]] : [binary, args];
  try {
    const { stdout, stderr } = await execFileAsync(command, argv, { timeout: timeoutMs, cwd: '/' });
    return stdout + stderr;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${tool} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

export async function startPostgresCluster(): Promise<PostgresCluster> {
  const missing = missingPostgresTools();
  if (missing.length > 0) throw new Error(`PostgreSQL 15 binaries missing: ${missing.join(', ')}`);

  // As root the cluster runs as `postgres`, which must reach the directory: TMPDIR might be
  // private to root, /tmp never is.
  const dir = await mkdtemp(join(isRoot() ? '/tmp' : tmpdir(), 'berth-pg-'));
  if (isRoot()) {
    const { uid, gid } = await lookupIds('postgres');
    await chown(dir, uid, gid);
  }
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'log');
  await pgExec('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync', '-N']);

  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const serverOptions = [
      `-p ${port}`,
      `-k ${dir}`,
      '-c listen_addresses=127.0.0.1',
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      '-c max_connections=300',
    ].join(' ');
    const start = () => pgExec('pg_ctl', ['-D', dataDir, '-l', logFile, '-w', '-t', '60', 'start', '-o', serverOptions]);
    try {
      await start();
    } catch (error) {
      const log = await readFile(logFile, 'utf8').catch(() => '');
      lastError = new Error(`${(error as Error).message}\nserver log:\n${log}`);
      continue; // most likely the port was taken in the meantime
    }
    let stopped = false;
    let paused = false;
    return {
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      port,
      dir,
      async pause() {
        await pgExec('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']);
        paused = true;
      },
      async resume() {
        await start();
        paused = false;
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        try {
          if (!paused) await pgExec('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']);
        } finally {
          await rm(dir, { recursive: true, force: true, maxRetries: 3 });
        }
      },
    };
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

