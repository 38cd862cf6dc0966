import { loadConfig, type ServeFlags } from '../config/index.js';
import { connectDatabase, migrateToLatest } from '../db/index.js';

export async function migrate(flags: ServeFlags): Promise<void> {
  const config = loadConfig({ ...flags, logLevel: 'warn' });
  const db = connectDatabase(config.database);
  try {
    await migrateToLatest(db);
    console.log(`schema is up to date (${config.database.dialect})`);
  } finally {
    await db.destroy();
  }
}
