/**
 * The OCI route table. Repository names contain slashes, so routes are matched on the raw
 * path from the right: everything before the last `/manifests/`, `/blobs/`… is the name.
 *
 *   /v2/<name>/manifests/<reference>      GET HEAD PUT DELETE
 *   /v2/<name>/blobs/uploads/             POST
 *   /v2/<name>/blobs/uploads/<id>         GET PATCH PUT DELETE
 *   /v2/<name>/blobs/<digest>             GET HEAD DELETE
 *   /v2/<name>/tags/list                  GET
 *   /v2/<name>/referrers/<digest>         GET
 */
export type OciRoute =
  | { kind: 'manifest'; name: string; reference: string }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; uploadId: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'tags'; name: string }
  | { kind: 'referrers'; name: string; digest: string };

const PATTERNS: [RegExp, (m: RegExpExecArray) => OciRoute][] = [
  [/^\/v2\/(.+)\/manifests\/([^/]+)$/, (m) => ({ kind: 'manifest', name: m[1]!, reference: m[2]! })],
  [/^\/v2\/(.+)\/blobs\/uploads\/?$/, (m) => ({ kind: 'uploads', name: m[1]! })],
  [/^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/, (m) => ({ kind: 'upload', name: m[1]!, uploadId: m[2]! })],
  [/^\/v2\/(.+)\/blobs\/([^/]+)$/, (m) => ({ kind: 'blob', name: m[1]!, digest: m[2]! })],
  [/^\/v2\/(.+)\/tags\/list$/, (m) => ({ kind: 'tags', name: m[1]! })],
  [/^\/v2\/(.+)\/referrers\/([^/]+)$/, (m) => ({ kind: 'referrers', name: m[1]!, digest: m[2]! })],
];

/** Matches the undecoded path (query removed); percent-escapes are never decoded into names. */
export function matchOciRoute(path: string): OciRoute | undefined {
  for (const [pattern, build] of PATTERNS) {
    const m = pattern.exec(path);
    if (m) return build(m);
  }
  return undefined;
}

export const ROUTE_METHODS: Record<OciRoute['kind'], readonly string[]> = {
  manifest: ['GET', 'HEAD', 'PUT', 'DELETE'],
  uploads: ['POST'],
  upload: ['GET', 'PATCH', 'PUT', 'DELETE'],
  blob: ['GET', 'HEAD', 'DELETE'],
  tags: ['GET'],
  referrers: ['GET'],
};
