/**
 * The registry API's routes, in one table used by the gateway (policy, metrics, logs) and by the
 * embedded core (dispatch): a request target is parsed once, into its path, its query and the
 * endpoint it addresses (distribution-spec "Endpoints", end-1..end-13, plus registry:2's catalog).
 *
 * Paths are matched raw (undecoded): a percent-encoded slash or dot never reaches a repository
 * name or a storage key, it simply fails the name grammar. The endpoints are tried in the
 * table's order, each taking the longest name its shape allows, as registry:2's router does: so
 * `/v2/a/manifests/blobs` is the manifest `blobs` of `a` for the gateway and for every backend.
 */
import { isRepositoryName } from './names.js';
import type { Action, Operation } from './operations.js';

export type { Action, Operation } from './operations.js';

/** A resource under `/v2/<name>/`. */
export type Endpoint = 'upload' | 'upload_session' | 'blob' | 'manifest' | 'tags' | 'referrers' | 'usage' | 'tag_usage';

export interface RegistryRoute {
  /** The raw path, without the query. */
  path: string;
  /** The query string, parsed. */
  query: URLSearchParams;
  /** True for paths under /v2 (registry API); false for anything else. */
  api: boolean;
  operation: Operation;
  /** Which resource the path addresses, whatever the method (`/v2/` and the catalog have none). */
  endpoint?: Endpoint;
  /** The name as written in the path, valid or not (the core answers NAME_INVALID for a bad one). */
  name?: string;
  /** Repository name, when the path addresses one and the name is valid. */
  repository?: string;
  /** Tag or digest for manifests, digest for blobs and referrers, upload session id for uploads. */
  reference?: string;
  /** What the request needs permission to do on `repository` (none for ping/catalog/other). */
  action?: Action;
  /**
   * The path ends in a slash the endpoint does not take. The gateway still classifies it (so
   * policy treats it like the endpoint), and the core answers 404 as registry:2 does.
   */
  strayTrailingSlash: boolean;
}

interface EndpointRoute {
  endpoint: Endpoint;
  /** Group 1: the name; group 2: the reference (when the endpoint has one); last group: a trailing slash. */
  pattern: RegExp;
  /** Operation per method; any other method is `other` on this endpoint. */
  operations: Record<string, Operation>;
  /** Every method counts as this operation (upload endpoints, tags, referrers). */
  anyMethod?: Operation;
}

const ACTION: Partial<Record<Operation, Action>> = {
  tags_list: 'pull',
  manifest_get: 'pull',
  manifest_head: 'pull',
  manifest_put: 'push',
  manifest_delete: 'delete',
  blob_get: 'pull',
  blob_head: 'pull',
  blob_delete: 'delete',
  blob_upload: 'push',
  referrers: 'pull',
  repository_usage: 'pull',
};

/** Order matters: `blobs/uploads` before `blobs`, the spec's order after that. */
export const ENDPOINTS: readonly EndpointRoute[] = [
  // end-4a/4b/11: POST /v2/<name>/blobs/uploads/ (the slash is optional)
  { endpoint: 'upload', pattern: /^\/v2\/(.+)\/blobs\/uploads()\/?()$/, operations: {}, anyMethod: 'blob_upload' },
  // end-5/6/13/14: the upload session
  {
    endpoint: 'upload_session',
    pattern: /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)(\/?)$/,
    operations: {},
    anyMethod: 'blob_upload',
  },
  // end-2/10
  {
    endpoint: 'blob',
    pattern: /^\/v2\/(.+)\/blobs\/([^/]+)(\/?)$/,
    operations: { GET: 'blob_get', HEAD: 'blob_head', DELETE: 'blob_delete' },
  },
  // end-3/7/9
  {
    endpoint: 'manifest',
    pattern: /^\/v2\/(.+)\/manifests\/([^/]+)(\/?)$/,
    operations: { GET: 'manifest_get', HEAD: 'manifest_head', PUT: 'manifest_put', DELETE: 'manifest_delete' },
  },
  // end-8a/8b
  { endpoint: 'tags', pattern: /^\/v2\/(.+)\/tags\/list()(\/?)$/, operations: {}, anyMethod: 'tags_list' },
  // end-12a/12b
  {
    endpoint: 'referrers',
    pattern: /^\/v2\/(.+)\/referrers\/([^/]+)(\/?)$/,
    operations: {},
    anyMethod: 'referrers',
  },
  // portcullis' extension: a repository's tag count, bytes stored and last push/pull
  {
    endpoint: 'usage',
    pattern: /^\/v2\/(.+)\/_portcullis\/usage()(\/?)$/,
    operations: {},
    anyMethod: 'repository_usage',
  },
  // portcullis' extension: a page of a repository's tags with each one's last push and pull
  // (the same operation as the figures above: pull on the repository, same metrics label)
  {
    endpoint: 'tag_usage',
    pattern: /^\/v2\/(.+)\/_portcullis\/usage\/tags()(\/?)$/,
    operations: {},
    anyMethod: 'repository_usage',
  },
];

/** portcullis' extension: the usage figures of a page of repositories (names never start with `_`). */
export const CATALOG_USAGE_PATH = '/v2/_portcullis/usage';

export function classifyRoute(method: string, rawUrl: string): RegistryRoute {
  const q = rawUrl.indexOf('?');
  const path = q === -1 ? rawUrl : rawUrl.slice(0, q);
  const query = new URLSearchParams(q === -1 ? '' : rawUrl.slice(q + 1));
  const base = { path, query, strayTrailingSlash: false };
  if (path === '/v2' || path === '/v2/') return { ...base, operation: 'ping', api: true };
  if (!path.startsWith('/v2/')) return { ...base, operation: 'other', api: false };
  if (path === '/v2/_catalog') return { ...base, operation: 'catalog', api: true };
  if (path === CATALOG_USAGE_PATH) return { ...base, operation: 'catalog_usage', api: true };
  for (const e of ENDPOINTS) {
    const m = e.pattern.exec(path);
    if (!m) continue;
    const name = m[1] as string;
    const reference = m[2] || undefined;
    const strayTrailingSlash = m[3] === '/';
    const valid = isRepositoryName(name);
    const operation = valid ? (e.anyMethod ?? e.operations[method.toUpperCase()] ?? 'other') : 'other';
    return {
      path,
      query,
      api: true,
      endpoint: e.endpoint,
      name,
      operation,
      repository: valid ? name : undefined,
      reference,
      action: ACTION[operation],
      strayTrailingSlash,
    };
  }
  return { ...base, operation: 'other', api: true };
}
