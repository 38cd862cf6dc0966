import type { ComponentChildren } from 'preact';
import { childLabel, isIndex, manifestKind, referrerKind } from '../artifacts.js';
import { formatAgo, formatBytes, formatDate, plural, shortDigest } from '../format.js';
import type { Blob, Manifest } from '../types.js';
import { TableScroll } from './table-scroll.js';

export interface TreeProps {
  manifests: Manifest[];
  onDelete: (manifest: Manifest) => void;
}

type Level = 3 | 4 | 5 | 6;

function Heading({ level, children }: { level: Level; children: ComponentChildren }) {
  const Tag = `h${level}` as 'h3';
  return <Tag class="manifest-title">{children}</Tag>;
}

/**
 * The repository's manifests as people think of them: an index with its platforms under
 * it, and signatures, SBOMs and attestations under what they sign or describe. Each node
 * shows its sizes and, on demand, its config and layers.
 */
export function ManifestTree({ manifests, onDelete }: TreeProps) {
  const byDigest = new Map(manifests.map((m) => [m.digest!, m]));
  const nested = new Set<string>();
  for (const m of manifests) {
    for (const c of m.manifests ?? []) if (byDigest.has(c.digest!)) nested.add(c.digest!);
    if (m.subject_digest && byDigest.has(m.subject_digest)) nested.add(m.digest!);
  }
  const top = manifests.filter((m) => !nested.has(m.digest!));
  return (
    <ul class="manifests">
      {top.map((m) => (
        <li key={m.digest}>
          <ManifestNode manifest={m} byDigest={byDigest} level={3} onDelete={onDelete} />
        </li>
      ))}
    </ul>
  );
}

function ManifestNode({ manifest, byDigest, level, label, onDelete }: { manifest: Manifest; byDigest: Map<string, Manifest>; level: Level; label?: string; onDelete: (m: Manifest) => void }) {
  const kind = label ?? manifestKind(manifest);
  const digest = manifest.digest!;
  const children = manifest.manifests ?? [];
  const referrers = manifest.referrers ?? [];
  const next = Math.min(level + 1, 6) as Level;
  return (
    <article class={`manifest level-${level}`} aria-label={`${kind} ${shortDigest(digest)}`}>
      <div class="manifest-head">
        <Heading level={level}>
          <span class="kind">{kind}</span> <code title={digest}>{shortDigest(digest)}</code>
        </Heading>
        <button type="button" class="danger small" onClick={() => onDelete(manifest)} aria-label={`Delete manifest ${shortDigest(digest)}`}>
          Delete
        </button>
      </div>
      <dl class="facts inline small">
        {(manifest.tags ?? []).length > 0 && (
          <div>
            <dt>Tags</dt>
            <dd>
              {manifest.tags!.map((t) => (
                <span class="tag" key={t}>
                  {t}
                </span>
              ))}
            </dd>
          </div>
        )}
        <div>
          <dt>Compressed</dt>
          <dd>{formatBytes(manifest.compressed_size_bytes)}</dd>
        </div>
        <div>
          <dt>Uncompressed</dt>
          <dd>{manifest.size_bytes ? formatBytes(manifest.size_bytes) : 'being measured'}</dd>
        </div>
        <div>
          <dt>Updated</dt>
          <dd title={formatDate(manifest.updated_at)}>{formatAgo(manifest.updated_at)}</dd>
        </div>
        <div class="wide">
          <dt>Digest</dt>
          <dd class="mono break">{digest}</dd>
        </div>
      </dl>
      {!isIndex(manifest.media_type) && (manifest.blobs ?? []).length > 0 && <Layers blobs={manifest.blobs!} digest={digest} />}
      {children.length > 0 && (
        <div class="children">
          <p class="children-title">{plural(children.length, 'platform manifest', 'platform manifests')}</p>
          <ul>
            {children.map((c) => {
              const row = byDigest.get(c.digest!);
              return (
                <li key={c.digest}>
                  {row ? (
                    <ManifestNode manifest={row} byDigest={byDigest} level={next} label={childLabel(c)} onDelete={onDelete} />
                  ) : (
                    <article class="manifest missing" aria-label={`${childLabel(c)} ${shortDigest(c.digest!)}`}>
                      <Heading level={next}>
                        <span class="kind">{childLabel(c)}</span> <code title={c.digest}>{shortDigest(c.digest!)}</code>
                      </Heading>
                      <p class="muted small">
                        {formatBytes(c.compressed_size_bytes)} compressed, {c.size_bytes ? formatBytes(c.size_bytes) : 'uncompressed size being measured'}.
                      </p>
                    </article>
                  )}
                </li>
              );
            })}
          </ul>
        </div>
      )}
      {referrers.length > 0 && (
        <div class="children referrers">
          <p class="children-title">{plural(referrers.length, 'referrer')}</p>
          <ul>
            {referrers.map((r) => {
              const row = byDigest.get(r.digest!);
              return (
                <li key={r.digest}>
                  {row ? (
                    <ManifestNode manifest={row} byDigest={byDigest} level={next} label={referrerKind(r)} onDelete={onDelete} />
                  ) : (
                    <article class="manifest missing" aria-label={`${referrerKind(r)} ${shortDigest(r.digest!)}`}>
                      <Heading level={next}>
                        <span class="kind">{referrerKind(r)}</span> <code title={r.digest}>{shortDigest(r.digest!)}</code>
                      </Heading>
                      <p class="muted small mono break">{r.artifact_type}</p>
                    </article>
                  )}
                </li>
              );
            })}
          </ul>
        </div>
      )}
      {manifest.artifact_type && manifestKind(manifest) !== 'Image' && !isIndex(manifest.media_type) && (
        <p class="muted small">
          Artifact type <code>{manifest.artifact_type}</code>
        </p>
      )}
    </article>
  );
}

function shortType(mediaType: string | undefined): string {
  if (!mediaType) return '—';
  return mediaType.replace(/^application\//, '').replace(/^vnd\.(oci|docker)\.(image|container|distribution)\./, '');
}

function Layers({ blobs, digest }: { blobs: Blob[]; digest: string }) {
  const [config, ...layers] = blobs;
  return (
    <details class="layers">
      <summary>
        Config and {plural(layers.length, 'layer')}
      </summary>
      <TableScroll label={`Config and layers of ${shortDigest(digest)}`}>
        <table>
          <thead>
            <tr>
              <th scope="col">Blob</th>
              <th scope="col">Media type</th>
              <th scope="col">Digest</th>
              <th scope="col" class="num">
                Compressed
              </th>
              <th scope="col" class="num">
                Uncompressed
              </th>
            </tr>
          </thead>
          <tbody>
            {[config!, ...layers].map((b, i) => (
              <tr key={`${i}-${b.digest}`}>
                <th scope="row">{i === 0 ? 'Config' : `Layer ${i}`}</th>
                <td class="mono small">{shortType(b.media_type)}</td>
                <td class="mono small" title={b.digest}>
                  {shortDigest(b.digest!)}
                </td>
                <td class="num">{formatBytes(b.compressed_size_bytes)}</td>
                <td class="num">{b.size_bytes === undefined ? '—' : formatBytes(b.size_bytes)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableScroll>
    </details>
  );
}
