/**
 * `… garbage-collection start|get-active|list|cancel`, and Berth's `start --wait`, which follows
 * the run until it ends and says what it freed.
 */
import { ApiError } from '../../../api-client/index.js';
import type { GarbageCollection, GarbageCollectionType } from '../api-types.js';
import type { CmdConfig, CommandSpec } from '../command.js';
import { CliError, missingArgs, tooManyArgs } from '../errors.js';
import { humanBytes } from '../output/go-format.js';
import { garbageCollectionDisplayer } from '../output/displayers.js';
import { registryFromArgs } from '../resolve-registry.js';
import { Tree, type TreeName } from '../tree.js';
import { FINISHED_GC_STATUSES, GC_UNREFERENCED_BLOBS_ONLY, GC_UNTAGGED_MANIFESTS_AND_UNREFERENCED_BLOBS, GC_UNTAGGED_MANIFESTS_ONLY } from '../vocabulary.js';

const POLL_INTERVAL_MS = 1_000;

/**
 * The registry a command acts on: a required first argument on the multi-registry tree; on the
 * single-registry tree an optional one (else the team's only registry), at most `max` in all.
 */
async function registryArg(c: CmdConfig, t: Tree, max = 1): Promise<string> {
  if (c.args.length > max) throw tooManyArgs(c.ns);
  if (t.name === 'registries') {
    if (c.args.length < 1) throw missingArgs(c.ns);
    return c.args[0]!;
  }
  return registryFromArgs(c, t, c.args[0]);
}

/** doctl's mapping of the two flags to the run's type; the trees differ on the odd combination. */
function gcType(c: CmdConfig, treeName: TreeName): GarbageCollectionType {
  const include = c.bool('includeUntaggedManifests');
  const exclude = c.bool('excludeUnreferencedBlobs');
  if (include && exclude) return GC_UNTAGGED_MANIFESTS_ONLY;
  if (!include && !exclude) return GC_UNREFERENCED_BLOBS_ONLY;
  if (include) return GC_UNTAGGED_MANIFESTS_AND_UNREFERENCED_BLOBS;
  if (treeName === 'registries') return GC_UNTAGGED_MANIFESTS_AND_UNREFERENCED_BLOBS;
  throw new CliError('incompatible combination of include-untagged-manifests and exclude-unreferenced-blobs flags');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The run with `uuid`, active or finished. */
async function findRun(t: Tree, registry: string, uuid: string): Promise<GarbageCollection | undefined> {
  try {
    const active = await t.activeGarbageCollection(registry);
    if (active.uuid === uuid) return active;
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) throw error;
  }
  return (await t.listGarbageCollections(registry)).find((run) => run.uuid === uuid);
}

/** Polls until the run ends, reporting each new status on stderr. */
async function waitForRun(c: CmdConfig, t: Tree, registry: string, started: GarbageCollection): Promise<GarbageCollection> {
  let run = started;
  let shown = '';
  const uuid = run.uuid ?? '';
  for (;;) {
    const status = run.status ?? '';
    if (status !== shown) {
      c.io.stderr.write(`Garbage collection ${uuid} on ${registry}: ${status}\n`);
      shown = status;
    }
    if (FINISHED_GC_STATUSES.includes(status)) return run;
    await sleep(POLL_INTERVAL_MS);
    const next = await findRun(t, registry, uuid);
    if (!next) throw new CliError(`garbage collection ${uuid} is no longer listed for registry ${registry}`);
    run = next;
  }
}

async function start(c: CmdConfig, treeName: TreeName): Promise<void> {
  const t = new Tree(treeName, c.session.api());
  const registry = await registryArg(c, t);
  const type = gcType(c, treeName);
  await c.confirm(`run garbage collection on registry ${registry} -- what it deletes cannot be recovered`);
  const run = await t.startGarbageCollection(registry, type);
  if (!c.bool('wait')) {
    c.display(garbageCollectionDisplayer([run]));
    return;
  }
  const finished = await waitForRun(c, t, registry, run);
  c.display(garbageCollectionDisplayer([finished]));
  if (finished.status !== 'succeeded') throw new CliError(`garbage collection ${finished.uuid} ended with status "${finished.status}"`);
  c.io.stderr.write(`Freed ${humanBytes(finished.freed_bytes)} (${finished.freed_bytes ?? 0} bytes) by deleting ${finished.blobs_deleted ?? 0} blob(s) from ${registry}\n`);
}

export function garbageCollectionCommands(treeName: TreeName): CommandSpec[] {
  const multi = treeName === 'registries';
  const reg = multi ? '<registry-name>' : '[<registry-name>]';
  const tree = (c: CmdConfig) => new Tree(treeName, c.session.api());
  return [
    {
      use: multi ? 'start <registry-name>' : 'start [<registry-name>]',
      short: 'Start garbage collection for a container registry',
      aliases: ['s'],
      displayer: true,
      flags: [
        { name: 'include-untagged-manifests', type: 'bool', description: 'Include untagged manifests in garbage collection.' },
        { name: 'exclude-unreferenced-blobs', type: 'bool', description: 'Exclude unreferenced blobs from garbage collection.' },
        { name: 'force', short: 'f', type: 'bool', description: 'Run garbage collection without confirmation prompt' },
        { name: 'wait', type: 'bool', description: 'Wait for the garbage collection to end, showing its progress, then print what it freed' },
      ],
      run: (c) => start(c, treeName),
    },
    {
      use: multi ? 'get-active <registry-name>' : 'get-active [<registry-name>]',
      short: 'Retrieve information about the currently-active garbage collection for a container registry',
      aliases: ['ga', 'g'],
      displayer: true,
      async run(c) {
        const t = tree(c);
        const registry = await registryArg(c, t);
        c.display(garbageCollectionDisplayer([await t.activeGarbageCollection(registry)]));
      },
    },
    {
      use: multi ? 'list <registry-name>' : 'list [<registry-name>]',
      short: 'Retrieve information about past garbage collections for a container registry',
      aliases: ['ls', 'l'],
      displayer: true,
      async run(c) {
        const t = tree(c);
        const registry = await registryArg(c, t);
        c.display(garbageCollectionDisplayer(await t.listGarbageCollections(registry)));
      },
    },
    {
      use: multi ? 'cancel <registry-name> <gc-uuid>' : `cancel ${reg} <gc-uuid>`,
      short: 'Cancel the currently-active garbage collection for a container registry',
      aliases: ['c'],
      async run(c) {
        const t = tree(c);
        if (c.args.length > 2) throw tooManyArgs(c.ns);
        if (c.args.length < (multi ? 2 : 1)) throw missingArgs(c.ns);
        const [registry, uuid] = c.args.length === 2 ? [c.args[0]!, c.args[1]!] : [await registryFromArgs(c, t, undefined), c.args[0]!];
        const run = await t.cancelGarbageCollection(registry, uuid);
        // doctl prints the cancelled run on the multi-registry tree only.
        if (multi) c.display(garbageCollectionDisplayer([run]));
      },
    },
  ];
}
