import { randomUUID } from 'node:crypto';
import { isUniqueViolation, type Db, type Registry } from '../db/index.js';
import { AppError } from '../errors/index.js';
import { registryNameProblem } from '../oci/index.js';
import { DEFAULT_REGIONS, isTierSlug, resolveTiers, type TierSlug, type Tiers } from './tiers.js';

export interface CreateRegistryInput {
  name: string;
  region?: string;
  tierSlug?: TierSlug;
}

/** Registries: globally unique names, owned by one team, limited by the team's tier. */
export class RegistryService {
  constructor(
    private readonly db: Db,
    private readonly regions: readonly string[] = DEFAULT_REGIONS,
    private readonly tiers: Tiers = resolveTiers(),
  ) {}

  async create(teamId: string, input: CreateRegistryInput): Promise<Registry> {
    RegistryService.checkName(input.name);
    const region = input.region ?? this.regions[0]!;
    if (!this.regions.includes(region)) throw new AppError('UNPROCESSABLE', `region: "${region}" is not available; choose one of ${this.regions.join(', ')}`);

    return this.db.transaction().execute(async (tx) => {
      // A no-op write locks the team row (PostgreSQL) or the database (SQLite) first, so
      // concurrent creates cannot both count below the limit. Portable, unlike FOR UPDATE.
      await tx.updateTable('teams').set((eb) => ({ tier: eb.ref('tier') })).where('id', '=', teamId).execute();
      const team = await tx.selectFrom('teams').selectAll().where('id', '=', teamId).executeTakeFirstOrThrow();
      const owned = await tx.selectFrom('registries').select((eb) => eb.fn.countAll<number>().as('n')).where('team_id', '=', teamId).executeTakeFirstOrThrow();
      const count = Number(owned.n);
      // The first registry starts the subscription; its tier comes from the request.
      let tier: TierSlug = isTierSlug(team.tier) ? team.tier : 'basic';
      if (count === 0 && input.tierSlug && input.tierSlug !== tier) {
        tier = input.tierSlug;
        await tx.updateTable('teams').set({ tier, subscription_updated_at: Date.now() }).where('id', '=', teamId).execute();
      }
      const limit = this.tiers[tier].max_registries;
      if (count >= limit) {
        throw new AppError(
          'PRECONDITION_FAILED',
          limit === 1
            ? `the ${this.tiers[tier].name} tier allows one registry; upgrade to Professional for up to ${this.tiers.professional.max_registries}`
            : `the ${this.tiers[tier].name} tier allows at most ${limit} registries`,
        );
      }
      const registry: Registry = {
        id: randomUUID(),
        team_id: teamId,
        name: input.name,
        region,
        created_at: Date.now(),
        storage_usage_bytes: 0,
        storage_usage_updated_at: null,
        read_only: 0,
      };
      try {
        await tx.insertInto('registries').values(registry).execute();
      } catch (err) {
        if (isUniqueViolation(err)) throw new AppError('CONFLICT', `registry name "${input.name}" is already taken`);
        throw err;
      }
      return registry;
    });
  }

  /** Throws 422 naming the rule a registry name breaks. */
  static checkName(name: string): void {
    const problem = registryNameProblem(name);
    if (problem) throw new AppError('UNPROCESSABLE', `name: ${problem}`);
  }

  async isNameTaken(name: string): Promise<boolean> {
    return (await this.db.selectFrom('registries').select('id').where('name', '=', name).executeTakeFirst()) !== undefined;
  }

  async listForTeam(teamId: string): Promise<Registry[]> {
    return this.db.selectFrom('registries').selectAll().where('team_id', '=', teamId).orderBy('name').execute();
  }

  /** The team's registry by name; another team's registry is reported as not found. */
  async getForTeam(teamId: string, name: string): Promise<Registry> {
    const registry = await this.byName(name);
    if (!registry || registry.team_id !== teamId) throw new AppError('NOT_FOUND', `registry "${name}" not found`);
    return registry;
  }

  async byName(name: string): Promise<Registry | undefined> {
    return this.db.selectFrom('registries').selectAll().where('name', '=', name).executeTakeFirst();
  }

  /** Deletes the registry and everything in it; blob bytes become garbage for GC. */
  async delete(teamId: string, name: string): Promise<void> {
    const registry = await this.getForTeam(teamId, name);
    await this.db.transaction().execute(async (tx) => {
      const repositoryIds = tx.selectFrom('repositories').select('id').where('registry_id', '=', registry.id);
      // Explicit deletes keep both dialects equal regardless of how foreign keys cascade.
      await tx.deleteFrom('tags').where('repository_id', 'in', repositoryIds).execute();
      await tx
        .deleteFrom('manifest_refs')
        .where('manifest_id', 'in', tx.selectFrom('manifests').select('id').where('repository_id', 'in', repositoryIds))
        .execute();
      await tx.deleteFrom('manifests').where('repository_id', 'in', repositoryIds).execute();
      await tx.deleteFrom('repository_blobs').where('repository_id', 'in', repositoryIds).execute();
      await tx.deleteFrom('uploads').where('repository_id', 'in', repositoryIds).execute();
      await tx.deleteFrom('repositories').where('registry_id', '=', registry.id).execute();
      await tx.deleteFrom('tokens').where('team_id', '=', teamId).where('registry_name', '=', name).execute();
      await tx.deleteFrom('registries').where('id', '=', registry.id).execute();
    });
  }
}
