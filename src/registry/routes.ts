/**
 * Request dispatcher: the route (classified once, by the shared table in src/oci/route.ts) →
 * handler, with the core's own refusals (405 with Allow, read-only, deletion disabled).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RegistryError, sendError, sendRegistryError } from '../oci/errors.js';
import { classifyRoute, type Endpoint, type RegistryRoute } from '../oci/route.js';
import { requireRepositoryName } from '../oci/names.js';
import type { CoreContext } from './context.js';
import { sendJson } from './http.js';
import { deleteManifest, getManifest, putManifest } from './handlers/manifests.js';
import { deleteBlob, getBlob } from './handlers/blobs.js';
import { cancelUpload, continueUpload, finishUpload, startUpload, uploadStatus } from './handlers/uploads.js';
import { listCatalog, listTags } from './handlers/tags.js';
import { listReferrers } from './handlers/referrers.js';
import { catalogUsage, repositoryUsage, tagUsage } from './handlers/usage.js';

export interface RequestInfo {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  name: string;
  ref: string;
  query: URLSearchParams;
}

type Handler = (ctx: CoreContext, r: RequestInfo) => Promise<void>;

/** Handlers per method for each endpoint of the shared route table (src/oci/route.ts). */
const HANDLERS: Record<Endpoint, Record<string, Handler>> = {
  upload: { POST: startUpload },
  upload_session: { GET: uploadStatus, PATCH: continueUpload, PUT: finishUpload, DELETE: cancelUpload },
  blob: { GET: getBlob, HEAD: getBlob, DELETE: deleteBlob },
  manifest: { GET: getManifest, HEAD: getManifest, PUT: putManifest, DELETE: deleteManifest },
  tags: { GET: listTags },
  referrers: { GET: listReferrers },
  usage: { GET: repositoryUsage },
  tag_usage: { GET: tagUsage },
};

/** Endpoints where DELETE removes content, refused unless deletion is enabled. */
const DELETES: ReadonlySet<Endpoint> = new Set(['blob', 'manifest']);

const READ = ['GET', 'HEAD'];

export async function dispatch(
  ctx: CoreContext,
  req: IncomingMessage,
  res: ServerResponse,
  route: RegistryRoute = classifyRoute(req.method ?? 'GET', req.url ?? '/'),
): Promise<void> {
  try {
    await answer(ctx, req, res, route);
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

async function answer(
  ctx: CoreContext,
  req: IncomingMessage,
  res: ServerResponse,
  route: RegistryRoute,
): Promise<void> {
  const { path, query, endpoint } = route;
  const method = (req.method ?? 'GET').toUpperCase();

  // end-1: API version check.
  if (route.operation === 'ping') {
    if (!READ.includes(method))
      throw new RegistryError('UNSUPPORTED', `${method} not supported on /v2/`, undefined, 405, { allow: 'GET, HEAD' });
    return sendJson(res, 200, {});
  }
  // end-15 (registry:2 extension, not in the OCI spec): repository catalog.
  if (route.operation === 'catalog') {
    if (method !== 'GET')
      throw new RegistryError('UNSUPPORTED', `${method} not supported on /v2/_catalog`, undefined, 405, {
        allow: 'GET',
      });
    return listCatalog(ctx, { req, res, method, name: '', ref: '', query });
  }
  if (route.operation === 'catalog_usage') {
    if (method !== 'GET')
      throw new RegistryError('UNSUPPORTED', `${method} not supported on ${path}`, undefined, 405, { allow: 'GET' });
    return catalogUsage(ctx, { req, res, method, name: '', ref: '', query });
  }
  if (endpoint && route.name !== undefined && !route.strayTrailingSlash) {
    const name = requireRepositoryName(route.name);
    const methods = HANDLERS[endpoint];
    const handler = methods[method];
    if (!handler) {
      throw new RegistryError('UNSUPPORTED', `${method} is not supported here`, undefined, 405, {
        allow: Object.keys(methods).join(', '),
      });
    }
    if (ctx.readOnly && !READ.includes(method)) {
      throw new RegistryError('UNSUPPORTED', 'the registry is read-only', undefined, 405);
    }
    if (!ctx.deleteEnabled && method === 'DELETE' && DELETES.has(endpoint)) {
      // distribution-spec "Content Management": disabled deletion → 400 or 405.
      throw new RegistryError('UNSUPPORTED', 'deletion is disabled on this registry', undefined, 405);
    }
    return handler(ctx, { req, res, method, name, ref: route.reference ?? '', query });
  }
  throw new RegistryError('NOT_FOUND', 'no such registry endpoint', { path }, 404);
}
