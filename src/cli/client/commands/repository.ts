/**
 * `registry repository …` and `registries repository …`: list repositories, tags and
 * manifests, and delete several tags or manifests at once. The single-registry tree takes the
 * registry from `--registry` (else the team's only one) and asks before deleting; the
 * multi-registry tree takes it as the first argument and, like doctl, deletes only with --force.
 */
import type { RepositoryTag } from '../api-types.js';
import type { CmdConfig, CommandSpec, FlagSpec } from '../command.js';
import { CliError, errorMessage, missingArgs, tooManyArgs } from '../errors.js';
import { repositoryDisplayer, repositoryManifestDisplayer, repositoryTagDisplayer, repositoryV2Displayer } from '../output/displayers.js';
import { registryFromFlag } from '../resolve-registry.js';
import { Tree, type TreeName } from '../tree.js';

const registryFlag: FlagSpec = {
  name: 'registry',
  type: 'string',
  value: 'name',
  description: "Name of the registry that the repository belongs to. For a list of possible values, use the 'berth registries list' command. This is optional and only needed if you have multiple registries.",
};

const forceFlag = (description: string): FlagSpec => ({ name: 'force', short: 'f', type: 'bool', description });

const sortFlag: FlagSpec = {
  name: 'sort-by',
  type: 'string',
  value: 'order',
  description: 'Order of the tags: time (newest first), size (largest first) or name; by default the API order (newest first)',
};

/** `--sort-by`, Berth's addition to list-tags. */
function sortTags(tags: RepositoryTag[], order: string | undefined): RepositoryTag[] {
  if (order === undefined) return tags;
  const sorted = [...tags];
  if (order === 'time') sorted.sort((a, b) => Date.parse(b.updated_at ?? '') - Date.parse(a.updated_at ?? '') || (a.tag ?? '').localeCompare(b.tag ?? ''));
  else if (order === 'size') sorted.sort((a, b) => (b.compressed_size_bytes ?? 0) - (a.compressed_size_bytes ?? 0) || (a.tag ?? '').localeCompare(b.tag ?? ''));
  else if (order === 'name') sorted.sort((a, b) => ((a.tag ?? '') < (b.tag ?? '') ? -1 : (a.tag ?? '') > (b.tag ?? '') ? 1 : 0));
  else throw new CliError(`invalid argument "${order}" for "--sort-by" flag: use time, size or name`);
  return sorted;
}

/**
 * The registry and the remaining arguments: `--registry` (or the only registry) on the
 * single-registry tree, the first argument on the multi-registry tree.
 */
async function target(c: CmdConfig, t: Tree, minArgs: number): Promise<{ registry: string; rest: string[] }> {
  if (t.name === 'registries') {
    if (c.args.length < minArgs + 1) throw missingArgs(c.ns);
    return { registry: c.args[0]!, rest: c.args.slice(1) };
  }
  if (c.args.length < minArgs) throw missingArgs(c.ns);
  return { registry: await registryFromFlag(c, t), rest: c.args };
}

/** Exactly one repository argument after the registry (doctl's ensureOneArg). */
function oneRepository(c: CmdConfig, rest: string[]): string {
  if (rest.length > 1) throw tooManyArgs(c.ns);
  return rest[0]!;
}

async function deleteMany(c: CmdConfig, treeName: TreeName, what: 'tag' | 'manifest'): Promise<void> {
  const t = new Tree(treeName, c.session.api());
  if (treeName === 'registries') {
    if (c.args.length < 3) throw missingArgs(c.ns);
    if (!c.bool('force')) throw new CliError(`${what} deletion is destructive and irreversible, please use --force flag to continue`);
  } else if (c.args.length < 2) {
    throw missingArgs(c.ns);
  }
  const { registry, rest } = await target(c, t, 2);
  const [repository, ...items] = rest as [string, ...string[]];
  if (treeName === 'registry') {
    await c.confirm(what === 'tag' ? `delete ${items.length} repository tag(s)` : `delete ${items.length} repository manifest(s) by digest (including associated tags)`);
  }
  const failures: string[] = [];
  for (const item of items) {
    try {
      if (what === 'tag') await t.deleteTag(registry, repository, item);
      else await t.deleteManifest(registry, repository, item);
    } catch (error) {
      // The multi-registry tree stops at the first failure; the single-registry one tries them all.
      if (treeName === 'registries') throw error;
      failures.push(errorMessage(error, c.session.lastExchange));
    }
  }
  if (failures.length > 0) throw new CliError(`failed to delete all repository ${what}s: \n${failures.join('\n')}`);
  if (treeName === 'registries') c.io.stdout.write(`Successfully deleted ${items.length} ${what}(s)\n`);
}

export function repositoryCommands(treeName: TreeName): CommandSpec[] {
  const reg = treeName === 'registries' ? '<registry-name> ' : '';
  const flags = treeName === 'registry' ? [registryFlag] : [];
  const tree = (c: CmdConfig) => new Tree(treeName, c.session.api());
  return [
    {
      use: `list ${reg}`.trim(),
      short: 'List repositories for a container registry',
      aliases: ['ls'],
      hidden: true,
      displayer: true,
      flags,
      async run(c) {
        const t = tree(c);
        const { registry, rest } = await target(c, t, 0);
        if (rest.length > 0) throw tooManyArgs(c.ns);
        c.display(repositoryDisplayer(await t.listRepositoriesV1(registry)));
      },
    },
    {
      use: `list-v2 ${reg}`.trim(),
      short: 'List repositories for a container registry',
      aliases: ['ls2'],
      displayer: true,
      flags,
      async run(c) {
        const t = tree(c);
        const { registry, rest } = await target(c, t, 0);
        if (rest.length > 0) throw tooManyArgs(c.ns);
        c.display(repositoryV2Displayer(await t.listRepositoriesV2(registry)));
      },
    },
    {
      use: `list-tags ${reg}<repository>`,
      short: 'List tags for a repository in a container registry',
      aliases: ['lt'],
      displayer: true,
      flags: [...flags, sortFlag],
      async run(c) {
        const t = tree(c);
        const order = c.string('sortBy');
        sortTags([], order); // a bad --sort-by fails before any request
        const { registry, rest } = await target(c, t, 1);
        const tags = await t.listTags(registry, oneRepository(c, rest));
        c.display(repositoryTagDisplayer(sortTags(tags, order)));
      },
    },
    {
      use: `delete-tag ${reg}<repository> <tag>...`,
      short: 'Delete one or more container repository tags',
      aliases: ['dt'],
      flags: [...flags, forceFlag('Delete tag without confirmation prompt')],
      run: (c) => deleteMany(c, treeName, 'tag'),
    },
    {
      use: `list-manifests ${reg}<repository>`,
      short: 'List manifests for a repository in a container registry',
      aliases: ['lm'],
      displayer: true,
      flags,
      async run(c) {
        const t = tree(c);
        const { registry, rest } = await target(c, t, 1);
        c.display(repositoryManifestDisplayer(await t.listManifests(registry, oneRepository(c, rest))));
      },
    },
    {
      use: `delete-manifest ${reg}<repository> <manifest-digest>...`,
      short: 'Delete one or more container repository manifests by digest',
      aliases: ['dm'],
      flags: [...flags, forceFlag('Deletes manifest without confirmation prompt')],
      run: (c) => deleteMany(c, treeName, 'manifest'),
    },
  ];
}
