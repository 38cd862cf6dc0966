import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { cachingStatements } from './statement-cache.js';

describe('cachingStatements', () => {
  const opened: SqliteDatabase.Database[] = [];
  const open = () => {
    const db = new SqliteDatabase(':memory:');
    opened.push(db);
    return db;
  };
  afterEach(() => {
    for (const db of opened.splice(0)) if (db.open) db.close();
  });

  it('prepares each SQL text once and hands the same statement back', () => {
    const db = open();
    const cached = cachingStatements(db);
    const first = cached.prepare('select ? as n');
    expect(cached.prepare('select ? as n')).toBe(first);
    expect(cached.prepare('select ? + 1 as n')).not.toBe(first);
    expect(first.all([41])).toEqual([{ n: 41 }]);
  });

  it('gives a fresh statement while the cached one is still being iterated', () => {
    const db = open();
    db.exec('create table t (n integer); insert into t values (1), (2), (3)');
    const cached = cachingStatements(db);
    const statement = cached.prepare('select n from t order by n');
    const rows = statement.iterate([]);
    expect(rows.next().value).toEqual({ n: 1 });
    const other = cached.prepare('select n from t order by n');
    expect(other).not.toBe(statement);
    expect(other.all([])).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect([...rows]).toEqual([{ n: 2 }, { n: 3 }]);
    expect(cached.prepare('select n from t order by n')).toBe(statement);
  });

  it('forgets the least recently used statement beyond its capacity', () => {
    const db = open();
    const cached = cachingStatements(db, 2);
    const a = cached.prepare('select 1');
    const b = cached.prepare('select 2');
    expect(cached.prepare('select 1')).toBe(a); // now b is the least recent
    cached.prepare('select 3');
    expect(cached.prepare('select 1')).toBe(a);
    expect(cached.prepare('select 2')).not.toBe(b);
  });

  it('keeps working through Kysely when the schema changes under a cached statement', async () => {
    const db = open();
    const kysely = new Kysely<{ t: { n: number; m: number | null } }>({ dialect: new SqliteDialect({ database: cachingStatements(db) }) });
    await sql`create table t (n integer)`.execute(kysely);
    await kysely.insertInto('t').values({ n: 1 }).execute();
    expect(await kysely.selectFrom('t').selectAll().execute()).toEqual([{ n: 1 }]);
    await sql`alter table t add column m integer`.execute(kysely);
    expect(await kysely.selectFrom('t').selectAll().execute()).toEqual([{ n: 1, m: null }]);
    const streamed: unknown[] = [];
    for await (const row of kysely.selectFrom('t').select('n').stream()) streamed.push(row);
    expect(streamed).toEqual([{ n: 1 }]);
    expect(await kysely.selectFrom('t').select('n').execute()).toEqual([{ n: 1 }]);
    await kysely.destroy();
    expect(db.open).toBe(false);
  });
});
