/**
 * `berth registries …` (aliases `regs`, `rs`): doctl's multi-registry tree, over DigitalOcean's
 * `/v2/registries` API, plus Berth's `usage` and `subscription`.
 */
import type { Command } from 'commander';
import { unwrap } from '../../../api-client/index.js';
import type { Registry } from '../api-types.js';
import { addGlobalFlags, type ClientRuntime, type CmdConfig, type CommandSpec } from '../command.js';
import { CliError, errorMessage, missingArgs } from '../errors.js';
import { Tree } from '../tree.js';
import { usageCommand } from './account.js';
import { credentialCommands, oneArg } from './credentials.js';
import { addSubtrees, createFlags, displayRegistries, requireFlag } from './registry.js';

function multiTreeCommands(): CommandSpec[] {
  const tree = (c: CmdConfig) => new Tree('registries', c.session.api());
  return [
    {
      use: 'list',
      short: 'List all registries in your account',
      aliases: ['ls'],
      displayer: true,
      async run(c) {
        const t = tree(c);
        await displayRegistries(c, t, (await t.listRegistries()).registries);
      },
    },
    {
      use: 'create <registry-name>',
      short: 'Create a private container registry',
      aliases: ['c'],
      flags: createFlags('registries'),
      async run(c) {
        const name = oneArg(c);
        const tier = requireFlag(c, 'subscription-tier', 'subscriptionTier');
        const region = c.string('region');
        const body = await unwrap(
          c.session.api().POST('/v2/registries', { body: { name, subscription_tier_slug: tier as 'basic', ...(region ? { region: region as 'nyc3' } : {}) } }),
        );
        await displayRegistries(c, tree(c), [body.registry ?? {}]);
      },
    },
    {
      use: 'get <registry-name>...',
      short: 'Get information about a registry',
      aliases: ['g'],
      displayer: true,
      async run(c) {
        if (c.args.length === 0) throw missingArgs(c.ns);
        const found: Registry[] = [];
        const failures: string[] = [];
        for (const name of c.args) {
          try {
            const body = await unwrap(c.session.api().GET('/v2/registries/{registry_name}', { params: { path: { registry_name: name } } }));
            found.push(body.registry ?? {});
          } catch (error) {
            failures.push(`failed to fetch registry ${name}: ${errorMessage(error, c.session.lastExchange)}`);
          }
        }
        if (found.length > 0) await displayRegistries(c, tree(c), found);
        if (failures.length > 0) throw new CliError(failures.join('\n'));
      },
    },
    {
      use: 'delete <registry-name>',
      short: 'Delete a registry',
      aliases: ['d', 'del', 'rm'],
      flags: [{ name: 'force', short: 'f', type: 'bool', description: 'Delete registry without confirmation prompt' }],
      async run(c) {
        const name = oneArg(c);
        await c.confirm('delete this registry');
        await unwrap(c.session.api().DELETE('/v2/registries/{registry_name}', { params: { path: { registry_name: name } } }));
      },
    },
    // doctl's order: docker-config comes before login on this tree.
    ...credentialCommands('registries').sort((a, b) => (a.use.startsWith('docker-config') ? -1 : b.use.startsWith('docker-config') ? 1 : 0)),
    usageCommand('registries'),
  ];
}

export function registerRegistriesCommands(rt: ClientRuntime, program: Command): Command {
  const registries = rt.group(program, 'registries', 'Display commands for working with multiple container registries', ['regs', 'rs']);
  addGlobalFlags(registries);
  for (const spec of multiTreeCommands()) rt.add(registries, spec);
  addSubtrees(rt, registries, 'registries');
  return registries;
}
