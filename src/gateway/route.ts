/**
 * Classify a request path into a registry operation, so policy, metrics and logs can speak
 * in registry terms (repository, action) instead of raw URLs.
 *
 * Repository names follow the OCI distribution spec's grammar
 * (`[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`).
 * The path is matched in its raw (undecoded) form: an encoded slash or dot can never
 * produce a repository name, and the raw URL is what gets forwarded.
 */

export type Operation =
  | 'ping' // GET /v2/
  | 'catalog'
  | 'tags_list'
  | 'manifest_get'
  | 'manifest_head'
  | 'manifest_put'
  | 'manifest_delete'
  | 'blob_get'
  | 'blob_head'
  | 'blob_delete'
  | 'blob_upload' // POST/PATCH/PUT/GET/DELETE of /blobs/uploads/...
  | 'referrers'
  | 'other';

/** The action a policy grants: what the token protocol calls pull, push and delete. */
export type Action = 'pull' | 'push' | 'delete';

export interface RegistryRoute {
  operation: Operation;
  /** Repository name, when the path addresses one. */
  repository?: string;
  /** Tag or digest for manifests, digest for blobs, upload session id for uploads. */
  reference?: string;
  /** What the request needs permission to do on `repository` (none for ping/catalog/other). */
  action?: Action;
  /** True for paths under /v2/ (registry API); false for anything else. */
  api: boolean;
}

const NAME = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*)*';
const ROUTE = new RegExp(`^/v2/(${NAME})/(manifests|blobs/uploads|blobs|tags/list|referrers)(?:/([^/?]*))?/?$`);

export const REPOSITORY_NAME = new RegExp(`^${NAME}$`);

export function classifyRoute(method: string, rawUrl: string): RegistryRoute {
  const q = rawUrl.indexOf('?');
  const path = q === -1 ? rawUrl : rawUrl.slice(0, q);
  if (path === '/v2' || path === '/v2/') return { operation: 'ping', api: true };
  if (!path.startsWith('/v2/')) return { operation: 'other', api: false };
  if (path === '/v2/_catalog') return { operation: 'catalog', api: true };
  const m = ROUTE.exec(path);
  if (!m) return { operation: 'other', api: true };
  const repository = m[1];
  const kind = m[2];
  const reference = m[3] || undefined;
  const read = method === 'GET' || method === 'HEAD';
  switch (kind) {
    case 'manifests':
      if (!reference) break;
      if (read)
        return {
          operation: method === 'GET' ? 'manifest_get' : 'manifest_head',
          repository,
          reference,
          action: 'pull',
          api: true,
        };
      if (method === 'PUT') return { operation: 'manifest_put', repository, reference, action: 'push', api: true };
      if (method === 'DELETE')
        return { operation: 'manifest_delete', repository, reference, action: 'delete', api: true };
      break;
    case 'blobs':
      if (!reference) break;
      if (read)
        return {
          operation: method === 'GET' ? 'blob_get' : 'blob_head',
          repository,
          reference,
          action: 'pull',
          api: true,
        };
      if (method === 'DELETE') return { operation: 'blob_delete', repository, reference, action: 'delete', api: true };
      break;
    case 'blobs/uploads':
      return { operation: 'blob_upload', repository, reference, action: 'push', api: true };
    case 'tags/list':
      return { operation: 'tags_list', repository, action: 'pull', api: true };
    case 'referrers':
      return { operation: 'referrers', repository, reference, action: 'pull', api: true };
  }
  return { operation: 'other', repository, reference, api: true };
}
