import { describe, expect, it } from 'vitest';
import { AppError, toDoBody, toOciBody } from '../errors/index.js';
import { translateDatabaseError } from './availability.js';

const err = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('translateDatabaseError', () => {
  it.each([
    ['ECONNREFUSED'],
    ['ECONNRESET'],
    ['ETIMEDOUT'],
    ['ENOTFOUND'],
    ['57P01'],
    ['57P03'],
    ['08006'],
    ['53300'],
    ['SQLITE_BUSY'],
    ['SQLITE_CANTOPEN'],
    ['SQLITE_IOERR_WRITE'],
  ])('%s: the database is unavailable (503, Retry-After)', (code) => {
    const t = translateDatabaseError(err(code)) as AppError;
    expect(t).toBeInstanceOf(AppError);
    expect(t.code).toBe('UNAVAILABLE');
    expect(t.status).toBe(503);
    expect(t.headers).toEqual({ 'Retry-After': '5' });
    expect((t.cause as { code: string }).code).toBe(code);
  });

  it('recognises a connection lost mid-query by its message', () => {
    expect((translateDatabaseError(new Error('Connection terminated unexpectedly')) as AppError).code).toBe('UNAVAILABLE');
    expect((translateDatabaseError(new Error('timeout exceeded when trying to connect')) as AppError).code).toBe('UNAVAILABLE');
  });

  it.each([['SQLITE_FULL'], ['53100']])('%s: the database disk is full (507)', (code) => {
    const t = translateDatabaseError(err(code)) as AppError;
    expect(t.code).toBe('STORAGE_FULL');
    expect(t.status).toBe(507);
    expect(t.message).toMatch(/out of disk space/);
  });

  it('leaves query errors and AppErrors alone', () => {
    const unique = err('23505');
    expect(translateDatabaseError(unique)).toBe(unique);
    const constraint = err('SQLITE_CONSTRAINT_UNIQUE');
    expect(translateDatabaseError(constraint)).toBe(constraint);
    const app = new AppError('NOT_FOUND');
    expect(translateDatabaseError(app)).toBe(app);
  });

  it('serialises in each listener shape', () => {
    const t = translateDatabaseError(err('ECONNREFUSED')) as AppError;
    expect(toOciBody(t)).toEqual({ errors: [{ code: 'UNAVAILABLE', message: 'the metadata database is unavailable; try again shortly' }] });
    expect(toDoBody(t, 'r1')).toEqual({ id: 'server_error', message: 'the metadata database is unavailable; try again shortly', request_id: 'r1' });
    const full = new AppError('STORAGE_FULL');
    expect(full.status).toBe(507);
    expect(toOciBody(full).errors[0]!.code).toBe('UNAVAILABLE');
    expect(toDoBody(full, 'r2')).toEqual({ id: 'server_error', message: 'the registry has run out of storage space', request_id: 'r2' });
  });
});
