/**
 * Team-level commands of both trees: `options subscription-tiers|available-regions` (doctl's),
 * and Berth's `subscription get|update` and `usage` (storage against the tier's allowance).
 */
import type { CmdConfig, CommandSpec } from '../command.js';
import { CliError, tooManyArgs } from '../errors.js';
import { availableRegionsDisplayer, subscriptionDisplayer, subscriptionTiersDisplayer, usageDisplayer } from '../output/displayers.js';
import { Tree, type TreeName } from '../tree.js';
import type { TierSlug } from '../vocabulary.js';

function noArgs(c: CmdConfig): void {
  if (c.args.length > 0) throw tooManyArgs(c.ns);
}

export function optionsCommands(treeName: TreeName): CommandSpec[] {
  return [
    {
      use: 'subscription-tiers',
      short: 'Lists available container registry subscription tiers',
      aliases: ['tiers'],
      async run(c) {
        noArgs(c);
        c.display(subscriptionTiersDisplayer((await new Tree(treeName, c.session.api()).options()).subscription_tiers ?? []));
      },
    },
    {
      use: 'available-regions',
      short: 'Lists available container registry regions',
      aliases: ['regions'],
      async run(c) {
        noArgs(c);
        c.display(availableRegionsDisplayer((await new Tree(treeName, c.session.api()).options()).available_regions ?? []));
      },
    },
  ];
}

export function subscriptionCommands(treeName: TreeName): CommandSpec[] {
  return [
    {
      use: 'get',
      short: "Show the team's subscription tier",
      aliases: ['g'],
      displayer: true,
      async run(c) {
        noArgs(c);
        c.display(subscriptionDisplayer(await new Tree(treeName, c.session.api()).subscription()));
      },
    },
    {
      use: 'update',
      short: "Change the team's subscription tier",
      aliases: ['u'],
      displayer: true,
      flags: [
        {
          name: 'subscription-tier',
          type: 'string',
          value: 'slug',
          description: `The new tier (required). For a list of possible values, use the \`berth ${treeName} options subscription-tiers\` command.`,
        },
      ],
      async run(c) {
        noArgs(c);
        const tier = c.string('subscriptionTier');
        if (!tier) throw new CliError('required flag(s) "subscription-tier" not set');
        c.display(subscriptionDisplayer(await new Tree(treeName, c.session.api()).updateSubscription(tier as TierSlug)));
      },
    },
  ];
}

export function usageCommand(treeName: TreeName): CommandSpec {
  return {
    use: 'usage',
    short: "Show storage used by the team's registries against the subscription tier's allowance",
    displayer: true,
    async run(c) {
      noArgs(c);
      const t = new Tree(treeName, c.session.api());
      const { registries, total_storage_usage_bytes } = await t.listRegistries();
      const subscription = await t.subscription();
      c.display(usageDisplayer({ subscription, registries, total_storage_usage_bytes }));
    },
  };
}
