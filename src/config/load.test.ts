import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './load.js';

describe('loadConfig', () => {
  it('defaults to SQLite and the filesystem under ./data', () => {
    const config = loadConfig({}, {});
    expect(config.dataDir).toBe(path.resolve('./data'));
    expect(config.database).toEqual({ dialect: 'sqlite', file: path.resolve('./data/berth.db') });
    expect(config.storage).toEqual({ driver: 'filesystem', root: path.resolve('./data') });
    expect(config.apiListen).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(config.registryHost).toBe('127.0.0.1:5000');
    expect(config.apiUrl).toBe('http://127.0.0.1:8080');
    expect(config.writeTokenTtlSeconds).toBe(900);
    expect(Object.isFrozen(config.apiListen)).toBe(true);
  });

  it('takes flags over the environment', () => {
    const config = loadConfig(
      { registryListen: '0.0.0.0:5001' },
      { BERTH_REGISTRY_LISTEN: '127.0.0.1:9', BERTH_REGISTRY_HOST: 'r.example.com', BERTH_DATABASE_URL: 'postgres://u@h/db', BERTH_API_URL: 'https://api.example.com/' },
    );
    expect(config.registryListen).toEqual({ host: '0.0.0.0', port: 5001 });
    expect(config.registryHost).toBe('r.example.com');
    expect(config.database).toEqual({ dialect: 'postgres', url: 'postgres://u@h/db' });
    expect(config.apiUrl).toBe('https://api.example.com');
  });

  it('reports every problem at once', () => {
    try {
      loadConfig(
        { apiListen: 'nonsense', databaseUrl: 'mysql://x', tokenTtl: 'abc', role: 'both' },
        { BERTH_BOOTSTRAP_TOKEN: 'secret' },
      );
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const message = (err as ConfigError).message;
      expect(message).toContain('--api-listen');
      expect(message).toContain('--database-url');
      expect(message).toContain('--token-ttl');
      expect(message).toContain('BERTH_BOOTSTRAP_TOKEN');
      expect(message).toContain('--role');
    }
  });

  it('has the metrics listener off and log format auto unless set', () => {
    const config = loadConfig({}, {});
    expect(config.metricsListen).toBeUndefined();
    expect(config.logFormat).toBe('auto');
    const set = loadConfig({ logFormat: 'pretty' }, { BERTH_METRICS_LISTEN: '0.0.0.0:9464' });
    expect(set.metricsListen).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(set.logFormat).toBe('pretty');
    expect(loadConfig({ metricsListen: 'off' }, { BERTH_METRICS_LISTEN: '127.0.0.1:1' }).metricsListen).toBeUndefined();
    expect(() => loadConfig({ metricsListen: '9464', logFormat: 'xml' }, {})).toThrow(/--metrics-listen[\s\S]*--log-format/);
  });
});
