import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './load.js';
import { describeDatabase, describeStorage } from './describe.js';

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

  it('has the connection limits and no TLS or trusted proxy by default', () => {
    const config = loadConfig({}, {});
    expect([config.bodyTimeoutSeconds, config.headerTimeoutSeconds, config.maxConnections, config.maxTokenScopes]).toEqual([60, 10, 512, 50]);
    expect(config.tls).toBeUndefined();
    expect(config.trustProxy).toEqual([]);
  });

  it('takes TLS files as a pair and then defaults the API URL to https', () => {
    const config = loadConfig({ tlsCert: 'c.pem' }, { BERTH_TLS_KEY: 'k.pem' });
    expect(config.tls).toEqual({ certFile: path.resolve('c.pem'), keyFile: path.resolve('k.pem') });
    expect(config.apiUrl).toBe('https://127.0.0.1:8080');
    expect(() => loadConfig({ tlsCert: 'c.pem' }, {})).toThrow(/--tls-key \/ BERTH_TLS_KEY: needed too/);
    expect(() => loadConfig({}, { BERTH_TLS_KEY: 'k.pem' })).toThrow(/--tls-cert \/ BERTH_TLS_CERT: needed too/);
  });

  it('takes --trust-proxy addresses, CIDRs and named ranges, and refuses anything else', () => {
    expect(loadConfig({ trustProxy: '10.0.0.1, 192.168.0.0/16,fd00::/8 , loopback' }, {}).trustProxy).toEqual(['10.0.0.1', '192.168.0.0/16', 'fd00::/8', 'loopback']);
    for (const bad of ['proxy.example.com', '10.0.0.0/33', '::1/129', '10.0.0.0/8/1', 'true', '*']) {
      expect(() => loadConfig({ trustProxy: bad }, {}), bad).toThrow(/--trust-proxy \/ BERTH_TRUST_PROXY/);
    }
  });

  it('refuses limits that are not positive', () => {
    expect.assertions(4);
    try {
      loadConfig({ bodyTimeout: '0s', headerTimeout: 'soon', maxConnections: '-1', maxTokenScopes: '0' }, {});
    } catch (err) {
      for (const flag of ['--body-timeout', '--header-timeout', '--max-connections', '--max-token-scopes']) expect((err as Error).message).toContain(flag);
    }
  });

  it('serves the web console unless --ui=false or BERTH_UI=false says otherwise', () => {
    expect(loadConfig({}, {}).ui).toBe(true);
    expect(loadConfig({ ui: 'false' }, {}).ui).toBe(false);
    expect(loadConfig({}, { BERTH_UI: 'false' }).ui).toBe(false);
    expect(loadConfig({ ui: 'true' }, { BERTH_UI: 'false' }).ui).toBe(true);
    expect(() => loadConfig({ ui: 'maybe' }, {})).toThrow(/--ui \/ BERTH_UI: "maybe" must be true or false/);
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

describe('S3 storage URLs', () => {
  const problemsOf = (storageUrl: string, env: NodeJS.ProcessEnv = {}): string => {
    try {
      loadConfig({ storageUrl }, env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as ConfigError).message;
    }
    return '';
  };

  it('reads bucket, prefix, endpoint, region and path style', () => {
    const config = loadConfig({ storageUrl: 's3://berth-blobs/prod/eu?endpoint=http%3A%2F%2F127.0.0.1%3A7480&region=eu-west-1&force-path-style=false' }, {});
    expect(config.storage).toEqual({ driver: 's3', bucket: 'berth-blobs', prefix: 'prod/eu', endpoint: 'http://127.0.0.1:7480', region: 'eu-west-1', forcePathStyle: false });
  });

  it('defaults to us-east-1, path style with an endpoint and virtual hosts without', () => {
    expect(loadConfig({ storageUrl: 's3://bucket1?endpoint=http://127.0.0.1:7480' }, {}).storage).toEqual({
      driver: 's3',
      bucket: 'bucket1',
      prefix: '',
      endpoint: 'http://127.0.0.1:7480',
      region: 'us-east-1',
      forcePathStyle: true,
    });
    expect(loadConfig({}, { BERTH_STORAGE_URL: 's3://bucket1/p/' }).storage).toMatchObject({ prefix: 'p', endpoint: undefined, forcePathStyle: false });
  });

  it('refuses credentials in the URL and points at the SDK environment', () => {
    const message = problemsOf('s3://AKIA:secret@bucket1/p');
    expect(message).toContain('credentials do not belong in the storage URL');
    expect(message).toContain('AWS_ACCESS_KEY_ID');
    expect(message).not.toContain('secret@');
    expect(problemsOf('s3://bucket1?endpoint=http://u:p@127.0.0.1:7480')).toContain('credentials do not belong in the endpoint URL');
  });

  it('explains malformed URLs', () => {
    expect(problemsOf('s3://Bad_Bucket/x')).toContain('not a valid bucket name');
    expect(problemsOf('s3://bucket1:9000/x')).toContain('cannot have a port');
    expect(problemsOf('s3://bucket1/a//b')).toContain('empty');
    expect(problemsOf('s3://bucket1/a/../b')).toContain('".."');
    expect(problemsOf('s3://bucket1?endpont=http://x')).toContain('unknown parameter "endpont"');
    expect(problemsOf('s3://bucket1?endpoint=ftp://x')).toContain('http or https');
    expect(problemsOf('s3://bucket1?endpoint=not a url')).toContain('is not a URL');
    expect(problemsOf('s3://bucket1?region=EU WEST')).toContain('region');
    expect(problemsOf('s3://bucket1?force-path-style=yes')).toContain('force-path-style must be true or false');
    expect(problemsOf('gs://bucket1')).toContain('must start with file: or s3://');
  });

  it('allows redirects only with S3 storage', () => {
    expect(problemsOf('file:/tmp/x', { BERTH_STORAGE_REDIRECT: 'true' })).toContain('redirects need S3 storage');
    expect(loadConfig({ storageUrl: 's3://bucket1', storageRedirect: true }, {}).storageRedirect).toBe(true);
    expect(loadConfig({ storageUrl: 's3://bucket1' }, { BERTH_STORAGE_REDIRECT: 'false' }).storageRedirect).toBe(false);
    expect(problemsOf('s3://bucket1', { BERTH_STORAGE_REDIRECT: 'maybe' })).toContain('must be true or false');
  });
});

describe('URLs fit for messages', () => {
  it('describes a storage as a --storage-url that reads back the same', () => {
    for (const url of ['file:/var/lib/berth', 's3://bucket1/p/q?endpoint=http%3A%2F%2F127.0.0.1%3A7480&region=eu-west-1', 's3://bucket1?endpoint=http://h:1&force-path-style=false', 's3://bucket1/x']) {
      const storage = loadConfig({ storageUrl: url }, {}).storage;
      expect(loadConfig({ storageUrl: describeStorage(storage) }, {}).storage, url).toEqual(storage);
    }
  });

  it('never shows a database password', () => {
    expect(describeDatabase({ dialect: 'postgres', url: 'postgres://berth:s3cret@db:5432/berth' })).toBe('postgres://berth:***@db:5432/berth');
    expect(describeDatabase({ dialect: 'sqlite', file: '/d/berth.db' })).toBe('sqlite:/d/berth.db');
  });
});
