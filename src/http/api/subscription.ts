import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import type { TierSlug } from '../../registry/index.js';
import { presentSubscription, presentTier } from './present.js';
import { assertNameAvailable, nameBody } from './registries.js';
import { defineRoute } from './route.js';
import { options, subscription, tierSlug } from './schemas.js';
import { BOTH } from './variants.js';

/** Team-level operations (name check, subscription, options), identical under both trees. */
export function registerSubscriptionRoutes(app: FastifyInstance, ctx: AppContext): void {
  for (const v of BOTH) {
    defineRoute<object, object, { name: string }>(app, ctx, {
      method: 'POST',
      url: `${v.prefix}/validate-name`,
      operationId: `${v.operationPrefix}_validate_name`,
      summary: 'Validate a Container Registry Name',
      tag: v.tag,
      deprecated: v.deprecated,
      scopes: ['registry:create'],
      body: nameBody,
      success: { status: 204, description: 'The name is available' },
      extraErrors: [409, 422],
      async handler({ ctx, body }) {
        await assertNameAvailable(ctx, body.name);
      },
    });

    defineRoute(app, ctx, {
      method: 'GET',
      url: `${v.prefix}/subscription`,
      operationId: `${v.operationPrefix}_get_subscription`,
      summary: 'Get Subscription Information',
      tag: v.tag,
      deprecated: v.deprecated,
      scopes: ['registry:read'],
      success: { status: 200, description: 'The subscription', schema: { type: 'object', properties: { subscription } } },
      async handler({ ctx, team }) {
        return { subscription: presentSubscription(team, ctx.subscriptions.tierOf(team)) };
      },
    });

    defineRoute<object, object, { tier_slug?: TierSlug } | undefined>(app, ctx, {
      method: 'POST',
      url: `${v.prefix}/subscription`,
      operationId: `${v.operationPrefix}_update_subscription`,
      summary: 'Update Subscription Tier',
      tag: v.tag,
      deprecated: v.deprecated,
      scopes: ['registry:update'],
      body: { type: 'object', properties: { tier_slug: tierSlug } },
      bodyOptional: true,
      success: { status: 200, description: 'The subscription', schema: { type: 'object', properties: { subscription } } },
      extraErrors: [412],
      async handler({ ctx, team, body }) {
        const updated = body?.tier_slug ? await ctx.subscriptions.change(team, body.tier_slug) : team;
        return { subscription: presentSubscription(updated, ctx.subscriptions.tierOf(updated)) };
      },
    });

    defineRoute(app, ctx, {
      method: 'GET',
      url: `${v.prefix}/options`,
      operationId: `${v.operationPrefix}_get_options`,
      summary: 'List Registry Options (Subscription Tiers and Available Regions)',
      tag: v.tag,
      deprecated: v.deprecated,
      scopes: ['registry:read'],
      success: { status: 200, description: 'Regions and tiers, with what this team is eligible for', schema: options },
      async handler({ ctx, team }) {
        const eligibility = await ctx.subscriptions.eligibility(team.id);
        return {
          options: {
            available_regions: [...ctx.config.regions],
            subscription_tiers: eligibility.map((e) => ({ ...presentTier(e.tier), eligible: e.eligible, eligibility_reasons: e.reasons })),
          },
        };
      },
    });
  }
}
