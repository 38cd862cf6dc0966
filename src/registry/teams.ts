import { randomUUID } from 'node:crypto';
import { isUniqueViolation, type Db, type Team } from '../db/index.js';
import { AppError } from '../errors/index.js';
import type { TierSlug } from './tiers.js';

export class TeamService {
  constructor(private readonly db: Db) {}

  async create(name: string, tier: TierSlug = 'basic'): Promise<Team> {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/.test(name)) {
      throw new AppError('BAD_REQUEST', `invalid team name "${name}": letters, digits, ".", "_" and "-", at most 63 characters`);
    }
    const now = Date.now();
    const team: Team = { id: randomUUID(), name, tier, created_at: now, subscription_updated_at: now };
    try {
      await this.db.insertInto('teams').values(team).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('CONFLICT', `team "${name}" already exists`);
      throw err;
    }
    return team;
  }

  async byName(name: string): Promise<Team | undefined> {
    return this.db.selectFrom('teams').selectAll().where('name', '=', name).executeTakeFirst();
  }

  async byId(id: string): Promise<Team | undefined> {
    return this.db.selectFrom('teams').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Returns the team, creating it when absent; safe when several processes race. */
  async ensure(name: string, tier: TierSlug = 'basic'): Promise<Team> {
    const existing = await this.byName(name);
    if (existing) return existing;
    try {
      return await this.create(name, tier);
    } catch (err) {
      if (err instanceof AppError && err.code === 'CONFLICT') return (await this.byName(name))!;
      throw err;
    }
  }
}
