import type { Db, Team } from '../db/index.js';
import { AppError } from '../errors/index.js';
import { tierOfTeam, TIER_SLUGS, type Tier, type Tiers, type TierSlug } from './tiers.js';
import type { UsageService } from './usage.js';

export type EligibilityReason = 'OverRepositoryLimit' | 'OverStorageLimit' | 'OverRegistryLimit';

export interface TierEligibility {
  tier: Tier;
  eligible: boolean;
  /** Only the reasons DigitalOcean's enum knows; the registry limit shows in `eligible` and messages. */
  reasons: Exclude<EligibilityReason, 'OverRegistryLimit'>[];
  allReasons: EligibilityReason[];
}

/** A team's subscription: which tier, and which tiers its real usage allows. */
export class SubscriptionService {
  constructor(
    private readonly db: Db,
    private readonly usage: UsageService,
    private readonly tiers: Tiers,
  ) {}

  tierOf(team: Team): Tier {
    return tierOfTeam(this.tiers, team);
  }

  async eligibility(teamId: string): Promise<TierEligibility[]> {
    const [repositories, storage, registries] = await Promise.all([
      this.usage.teamRepositories(teamId),
      this.usage.teamBytes(teamId),
      this.db.selectFrom('registries').select((eb) => eb.fn.countAll<number>().as('n')).where('team_id', '=', teamId).executeTakeFirstOrThrow(),
    ]);
    return TIER_SLUGS.map((slug) => {
      const tier = this.tiers[slug];
      const allReasons: EligibilityReason[] = [];
      if (tier.included_repositories !== 0 && repositories > tier.included_repositories) allReasons.push('OverRepositoryLimit');
      if (!tier.allow_storage_overage && storage > tier.included_storage_bytes) allReasons.push('OverStorageLimit');
      if (Number(registries.n) > tier.max_registries) allReasons.push('OverRegistryLimit');
      return {
        tier,
        eligible: allReasons.length === 0,
        reasons: allReasons.filter((r): r is Exclude<EligibilityReason, 'OverRegistryLimit'> => r !== 'OverRegistryLimit'),
        allReasons,
      };
    });
  }

  /** Moves the team to another tier when its usage fits; otherwise 412 naming why. */
  async change(team: Team, slug: TierSlug): Promise<Team> {
    const target = (await this.eligibility(team.id)).find((e) => e.tier.slug === slug)!;
    if (!target.eligible) {
      throw new AppError('PRECONDITION_FAILED', `registry is not eligible for tier because: [${target.allReasons.join(', ')}]`);
    }
    const now = Date.now();
    await this.db.updateTable('teams').set({ tier: slug, subscription_updated_at: now }).where('id', '=', team.id).execute();
    return { ...team, tier: slug, subscription_updated_at: now };
  }
}
