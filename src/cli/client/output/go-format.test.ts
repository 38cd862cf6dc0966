/**
 * Formatting against what doctl prints: the expected tables below are doctl's output for the
 * same API answers (its integration tests' fixtures use these values), so Berth's tables are
 * byte-for-byte doctl's.
 */
import { describe, expect, it } from 'vitest';
import { render } from './display.js';
import { garbageCollectionDisplayer, repositoryManifestDisplayer, repositoryTagDisplayer, repositoryV2Displayer } from './displayers.js';
import { goFixed2, goList, goTime, goTimePointer, humanBytes, tabwrite } from './go-format.js';

describe('Go formatting', () => {
  it('sizes as doctl\'s BytesToHumanReadableUnit: decimal units, two decimals, ties to even', () => {
    expect(humanBytes(0)).toBe('0 B');
    expect(humanBytes(999)).toBe('999 B');
    expect(humanBytes(1000)).toBe('1.00 kB');
    expect(humanBytes(1972332)).toBe('1.97 MB');
    expect(humanBytes(2816445)).toBe('2.82 MB');
    expect(humanBytes(5368709120)).toBe('5.37 GB');
    expect(humanBytes(1125)).toBe('1.12 kB');
    expect(humanBytes(1375)).toBe('1.38 kB');
    expect(humanBytes(999_999)).toBe('1000.00 kB');
    expect(goFixed2(0.125)).toBe('0.12');
    expect(goFixed2(1.005)).toBe('1.00');
  });

  it('times as time.Time.String(), lists as %v, nil as <nil>', () => {
    expect(goTime('2020-04-01T00:00:00Z')).toBe('2020-04-01 00:00:00 +0000 UTC');
    expect(goTime('2024-05-06T07:08:09.120Z')).toBe('2024-05-06 07:08:09.12 +0000 UTC');
    expect(goTime('2024-05-06T07:08:09+02:00')).toBe('2024-05-06 07:08:09 +0200 +0200');
    expect(goTime(undefined)).toBe('0001-01-01 00:00:00 +0000 UTC');
    expect(goTimePointer(undefined)).toBe('<nil>');
    expect(goList(['v1', 'v2'])).toBe('[v1 v2]');
    expect(goList([])).toBe('[]');
  });

  it('pads every cell but a line\'s last to its column\'s widest plus four, as tabwriter does', () => {
    expect(tabwrite([['a', 'bb', 'c'], ['dddd', '', 'e']])).toBe('a       bb    c\ndddd          e\n');
    expect(tabwrite([['Slug'], ['nyc3']])).toBe('Slug\nnyc3\n');
  });
});

describe('doctl\'s tables', () => {
  const text = { output: 'text' as const };

  it('list-tags', () => {
    const tags = [
      {
        tag: 'my-tag',
        manifest_digest: 'sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f',
        compressed_size_bytes: 1000,
        size_bytes: 2000,
        updated_at: '2020-04-01T00:00:00Z',
      },
    ];
    expect(render(repositoryTagDisplayer(tags), text)).toBe(
      'Tag       Compressed Size    Updated At                       Manifest Digest\n' +
        'my-tag    1.00 kB            2020-04-01 00:00:00 +0000 UTC    sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f\n',
    );
  });

  it('list-manifests', () => {
    const manifests = [
      { digest: 'sha256:cb8a924afdf0229ef7515d9e5b3024e23b3eb03ddbba287f4a19c6ac90b8d221', compressed_size_bytes: 1972332, size_bytes: 2816445, updated_at: '2021-04-09T23:54:25Z', tags: ['v1', 'v2'] },
    ];
    expect(render(repositoryManifestDisplayer(manifests), text)).toBe(
      'Manifest Digest                                                            Compressed Size    Uncompressed Size    Updated At                       Tags\n' +
        'sha256:cb8a924afdf0229ef7515d9e5b3024e23b3eb03ddbba287f4a19c6ac90b8d221    1.97 MB            2.82 MB              2021-04-09 23:54:25 +0000 UTC    [v1 v2]\n',
    );
  });

  it('list-v2, with a repository that has no latest manifest', () => {
    const repositories = [
      {
        name: 'repo-1',
        tag_count: 57,
        manifest_count: 82,
        latest_manifest: { digest: 'sha256:cb8a924afdf0229ef7515d9e5b3024e23b3eb03ddbba287f4a19c6ac90b8d221', updated_at: '2021-04-09T23:54:25Z', tags: ['v1', 'v2'] },
      },
      { name: 'repo-2', tag_count: 57, manifest_count: 82 },
    ];
    expect(render(repositoryV2Displayer(repositories), text)).toBe(
      'Name      Latest Manifest                                                            Latest Tag    Tag Count    Manifest Count    Updated At\n' +
        'repo-1    sha256:cb8a924afdf0229ef7515d9e5b3024e23b3eb03ddbba287f4a19c6ac90b8d221    v1            57           82                2021-04-09 23:54:25 +0000 UTC\n' +
        'repo-2                                                                               <none>        57           82                <nil>\n',
    );
  });

  it('garbage collections, and --format with --no-header', () => {
    const runs = [
      { uuid: 'mew-mew-id', registry_name: 'my-registry', status: 'requested' as const, created_at: '2020-04-01T00:00:00Z', updated_at: '2020-04-01T00:00:00Z', blobs_deleted: 42, freed_bytes: 666 },
    ];
    expect(render(garbageCollectionDisplayer(runs), text)).toBe(
      'UUID          Registry Name    Status       Created At                       Updated At                       Blobs Deleted    Bytes Freed\n' +
        'mew-mew-id    my-registry      requested    2020-04-01 00:00:00 +0000 UTC    2020-04-01 00:00:00 +0000 UTC    42               666\n',
    );
    expect(render(garbageCollectionDisplayer(runs), { output: 'text', format: ' UUID , FreedBytes', noHeader: true })).toBe('mew-mew-id    666\n');
    expect(JSON.parse(render(garbageCollectionDisplayer(runs), { output: 'json' }))).toEqual(runs);
    expect(() => render(garbageCollectionDisplayer(runs), { output: 'text', format: 'Uuid' })).toThrow('unknown column "Uuid"');
  });
});
