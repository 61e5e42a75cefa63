/**
 * Request dispatcher: raw path → handler (distribution-spec "Endpoints" table, end-1..end-13).
 *
 * Paths are matched undecoded: a percent-encoded slash or dot never reaches a repository
 * name or a storage key, it simply fails the name/reference grammar.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RegistryError, sendError, sendRegistryError } from '../oci/errors.js';
import type { CoreContext } from './context.js';
import { requireRepositoryName } from './names.js';
import { sendJson } from './http.js';
import { deleteManifest, getManifest, putManifest } from './handlers/manifests.js';
import { deleteBlob, getBlob } from './handlers/blobs.js';
import { cancelUpload, continueUpload, finishUpload, startUpload, uploadStatus } from './handlers/uploads.js';
import { listCatalog, listTags } from './handlers/tags.js';
import { listReferrers } from './handlers/referrers.js';

export interface RequestInfo {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  name: string;
  ref: string;
  query: URLSearchParams;
}

type Handler = (ctx: CoreContext, r: RequestInfo) => Promise<void>;

interface Route {
  pattern: RegExp;
  methods: Record<string, Handler>;
  write?: string[];
  deletes?: string[];
}

const READ = ['GET', 'HEAD'];

const ROUTES: Route[] = [
  // end-4a/4b/11: POST /v2/<name>/blobs/uploads/
  { pattern: /^\/v2\/(.+)\/blobs\/uploads\/?$/, methods: { POST: startUpload } },
  // end-5/6/13/14: the upload session
  {
    pattern: /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/,
    methods: { GET: uploadStatus, PATCH: continueUpload, PUT: finishUpload, DELETE: cancelUpload },
  },
  // end-2/10
  {
    pattern: /^\/v2\/(.+)\/blobs\/([^/]+)$/,
    methods: { GET: getBlob, HEAD: getBlob, DELETE: deleteBlob },
    deletes: ['DELETE'],
  },
  // end-3/7/9
  {
    pattern: /^\/v2\/(.+)\/manifests\/([^/]+)$/,
    methods: { GET: getManifest, HEAD: getManifest, PUT: putManifest, DELETE: deleteManifest },
    deletes: ['DELETE'],
  },
  // end-8a/8b
  { pattern: /^\/v2\/(.+)\/tags\/list$/, methods: { GET: listTags } },
  // end-12a/12b
  { pattern: /^\/v2\/(.+)\/referrers\/([^/]+)$/, methods: { GET: listReferrers } },
];

export async function dispatch(ctx: CoreContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    await route(ctx, req, res);
  } catch (e) {
    if (e instanceof RegistryError) {
      sendRegistryError(res, e);
    } else if (isClientGone(e, req)) {
      res.destroy();
    } else if ((e as NodeJS.ErrnoException)?.code === 'ENOSPC' || (e as NodeJS.ErrnoException)?.code === 'EDQUOT') {
      // The write went to a temp file that is discarded: nothing half-written becomes visible.
      ctx.logger.warn(
        { method: req.method, url: req.url, code: (e as NodeJS.ErrnoException).code },
        'registry core: storage full',
      );
      sendError(
        res,
        'UNAVAILABLE',
        'the registry storage is full; the upload was discarded, retry when space is freed',
        { errno: (e as NodeJS.ErrnoException).code },
        { status: 507 },
      );
      // Read (and drop) the rest of the body, so the client gets this answer instead of a reset.
      req.resume();
    } else {
      ctx.logger.error({ err: e, method: req.method, url: req.url }, 'registry core: internal error');
      sendError(res, 'INTERNAL', 'internal server error');
    }
  }
}

function isClientGone(e: unknown, req: IncomingMessage): boolean {
  const code = (e as NodeJS.ErrnoException)?.code;
  return (
    req.destroyed || code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ERR_STREAM_DESTROYED'
  );
}

async function route(ctx: CoreContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const raw = req.url ?? '/';
  const q = raw.indexOf('?');
  const path = q === -1 ? raw : raw.slice(0, q);
  const query = new URLSearchParams(q === -1 ? '' : raw.slice(q + 1));
  const method = (req.method ?? 'GET').toUpperCase();

  // end-1: API version check.
  if (path === '/v2' || path === '/v2/') {
    if (!READ.includes(method))
      throw new RegistryError('UNSUPPORTED', `${method} not supported on /v2/`, undefined, 405, { allow: 'GET, HEAD' });
    return sendJson(res, 200, {});
  }
  // end-15 (registry:2 extension, not in the OCI spec): repository catalog.
  if (path === '/v2/_catalog') {
    if (method !== 'GET')
      throw new RegistryError('UNSUPPORTED', `${method} not supported on /v2/_catalog`, undefined, 405, {
        allow: 'GET',
      });
    return listCatalog(ctx, { req, res, method, name: '', ref: '', query });
  }
  for (const r of ROUTES) {
    const m = r.pattern.exec(path);
    if (!m) continue;
    const name = requireRepositoryName(m[1]);
    const handler = r.methods[method];
    if (!handler) {
      throw new RegistryError('UNSUPPORTED', `${method} is not supported here`, undefined, 405, {
        allow: Object.keys(r.methods).join(', '),
      });
    }
    if (ctx.readOnly && !READ.includes(method)) {
      throw new RegistryError('UNSUPPORTED', 'the registry is read-only', undefined, 405);
    }
    if (!ctx.deleteEnabled && r.deletes?.includes(method)) {
      // distribution-spec "Content Management": disabled deletion → 400 or 405.
      throw new RegistryError('UNSUPPORTED', 'deletion is disabled on this registry', undefined, 405);
    }
    return handler(ctx, { req, res, method, name, ref: m[2] ?? '', query });
  }
  throw new RegistryError('NOT_FOUND', 'no such registry endpoint', { path }, 404);
}
