/**
 * `berth registry …` (aliases `reg`, `r`): doctl's single-registry tree, over DigitalOcean's
 * `/v2/registry` API, plus Berth's `usage` and `subscription`.
 */
import type { Command } from 'commander';
import { unwrap } from '../../../api-client/index.js';
import type { Registry } from '../api-types.js';
import { addGlobalFlags, type ClientRuntime, type CmdConfig, type CommandSpec, type FlagSpec } from '../command.js';
import { CliError, missingArgs, tooManyArgs } from '../errors.js';
import { registryDisplayer } from '../output/displayers.js';
import { endpointsFor } from '../registry-host.js';
import { isPreconditionFailed, multipleRegistries, onlyRegistry } from '../resolve-registry.js';
import { Tree, type TreeName } from '../tree.js';
import { optionsCommands, subscriptionCommands, usageCommand } from './account.js';
import { credentialCommands } from './credentials.js';
import { garbageCollectionCommands } from './garbage-collection.js';
import { repositoryCommands } from './repository.js';

const REGISTRY_COLUMNS = ['Name', 'Endpoint', 'Region'];

export function createFlags(treeName: TreeName): FlagSpec[] {
  return [
    {
      name: 'subscription-tier',
      type: 'string',
      value: 'slug',
      defaultValue: 'basic',
      description: `Subscription tier for the new registry. For a list of possible values, use the \`berth ${treeName} options subscription-tiers\` command. (required)`,
    },
    {
      name: 'region',
      type: 'string',
      value: 'slug',
      description: `A \`slug\` indicating which datacenter region the registry reside in. For a list of supported region slugs, use the \`berth ${treeName} options available-regions\` command`,
    },
  ];
}

/**
 * cobra's check of a required flag: it must be given, even though it has a default (doctl marks
 * `--subscription-tier` required with the default `basic`).
 */
export function requireFlag(c: CmdConfig, flag: string, key: string): string {
  if (c.flagSource(key) !== 'cli') throw new CliError(`required flag(s) "${flag}" not set`);
  return String(c.opts[key]);
}

/** Prints registries with their endpoint, learning the registry host only when it is shown. */
export async function displayRegistries(c: CmdConfig, tree: Tree, registries: Registry[]): Promise<void> {
  const names = registries.map((r) => r.name ?? '');
  const endpoint = c.shows('Endpoint', REGISTRY_COLUMNS) ? await endpointsFor(c.session, tree, names) : (name: string) => name;
  c.display(registryDisplayer(registries, endpoint));
}

function singleTreeCommands(): CommandSpec[] {
  const tree = (c: CmdConfig) => new Tree('registry', c.session.api());
  return [
    {
      use: 'create <registry-name>',
      short: 'Create a private container registry',
      flags: createFlags('registry'),
      async run(c) {
        if (c.args.length === 0) throw missingArgs(c.ns);
        if (c.args.length > 1) throw tooManyArgs(c.ns);
        const tier = requireFlag(c, 'subscription-tier', 'subscriptionTier');
        const region = c.string('region');
        const body = await unwrap(
          c.session.api().POST('/v2/registry', { body: { name: c.args[0]!, subscription_tier_slug: tier as 'basic', ...(region ? { region: region as 'nyc3' } : {}) } }),
        );
        await displayRegistries(c, tree(c), [body.registry ?? {}]);
      },
    },
    {
      use: 'get',
      short: 'Retrieve details about a container registry',
      aliases: ['g'],
      displayer: true,
      async run(c) {
        let registry;
        try {
          registry = await onlyRegistry(c);
        } catch (error) {
          if (isPreconditionFailed(error)) throw await multipleRegistries(tree(c), "Please use 'berth registries get <registry-name>' instead");
          throw error;
        }
        await displayRegistries(c, tree(c), [registry]);
      },
    },
    {
      use: 'delete',
      short: 'Delete a container registry',
      aliases: ['d', 'del', 'rm'],
      flags: [{ name: 'force', short: 'f', type: 'bool', description: 'Force deletes the registry without confirmation prompt' }],
      async run(c) {
        await c.confirm('delete registry');
        await unwrap(c.session.api().DELETE('/v2/registry'));
      },
    },
    ...credentialCommands('registry'),
    usageCommand('registry'),
  ];
}

/** The repository, garbage-collection, options and subscription groups of a tree. */
export function addSubtrees(rt: ClientRuntime, parent: Command, treeName: TreeName): void {
  const repository = rt.group(parent, 'repository', 'Display commands for working with repositories in a container registry', ['repo', 'r']);
  for (const spec of repositoryCommands(treeName)) rt.add(repository, spec);
  // doctl also gives garbage-collection the alias `g`, but `get` (added first) answers to it.
  const gc = rt.group(parent, 'garbage-collection', 'Display commands for garbage collection for a container registry', ['gc']);
  for (const spec of garbageCollectionCommands(treeName)) rt.add(gc, spec);
  const options = rt.group(parent, 'options', 'List available container registry options', ['opts', 'o']);
  for (const spec of optionsCommands(treeName)) rt.add(options, spec);
  const subscription = rt.group(parent, 'subscription', "Display commands for the team's subscription tier");
  for (const spec of subscriptionCommands(treeName)) rt.add(subscription, spec);
}

export function registerRegistryCommands(rt: ClientRuntime, program: Command): Command {
  const registry = rt.group(program, 'registry', 'Display commands for working with container registries', ['reg', 'r']);
  addGlobalFlags(registry);
  for (const spec of singleTreeCommands()) rt.add(registry, spec);
  addSubtrees(rt, registry, 'registry');
  return registry;
}
