/** GET/HEAD/DELETE /v2/<name>/blobs/<digest> (distribution-spec "Pulling blobs", "Deleting Blobs"). */
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { API_VERSION, API_VERSION_HEADER, RegistryError } from '../../oci/errors.js';
import type { CoreContext } from '../context.js';
import { BROWSE_HEADER } from '../../oci/browse-header.js';
import { parseDigest, requireDigest } from '../../oci/digest.js';
import { parseRange, send } from '../http.js';
import type { RequestInfo } from '../routes.js';

/**
 * The repository browser reads image configs (small JSON) with the browse header. Its page may
 * talk only to its own origin, so it cannot follow a storage redirect to the bucket: such reads
 * are answered here. Anything larger is redirected as for every client (the header grants no
 * way around --storage-redirect for layers).
 */
const BROWSE_DIRECT_MAX = 1 << 20;

export async function getBlob(ctx: CoreContext, r: RequestInfo): Promise<void> {
  // A read of something that can never be a digest is "not found", as for manifests.
  const digest = parseDigest(r.ref)?.digest;
  if (!digest) throw new RegistryError('BLOB_UNKNOWN', 'blob unknown to registry', { digest: r.ref });
  const stat = (await ctx.repos.hasBlob(r.name, digest)) ? await ctx.storage.statBlob(digest) : null;
  if (!stat) throw new RegistryError('BLOB_UNKNOWN', 'blob unknown to registry', { digest });
  const size = stat.size;
  const etag = `"${digest}"`;
  const common: Record<string, string | number> = {
    'docker-content-digest': digest,
    'content-type': 'application/octet-stream',
    'accept-ranges': 'bytes',
    etag,
    'cache-control': 'max-age=31536000',
  };
  const res = r.res;

  // RFC 9110 §13.1.5: If-Range with a validator that does not match → ignore Range.
  const ifRange = r.req.headers['if-range'];
  let range = ifRange && ifRange !== etag ? null : parseRange(r.req.headers.range, size);
  if (r.method === 'HEAD') range = null;
  if (range === 'unsatisfiable') {
    // RFC 9110 §15.5.17: 416 carries `Content-Range: bytes */<size>`.
    throw new RegistryError('RANGE_INVALID', 'requested range not satisfiable', { size }, 416, {
      'content-range': `bytes */${size}`,
      'docker-content-digest': digest,
    });
  }
  res.setHeader(API_VERSION_HEADER, API_VERSION);
  for (const [k, v] of Object.entries(common)) res.setHeader(k, v);
  const browsing = r.req.headers[BROWSE_HEADER] !== undefined && size <= BROWSE_DIRECT_MAX;
  if (r.method === 'GET' && ctx.redirect && !browsing) {
    // --storage-redirect: the bytes come from the bucket (or its CDN), not through here.
    // Clients resend Range to the new location; HEAD (above) and manifests stay direct.
    res.statusCode = 307;
    res.setHeader('location', await ctx.redirect(digest));
    res.setHeader('cache-control', 'no-store');
    res.setHeader('content-length', 0);
    res.end();
    return;
  }
  if (r.method === 'HEAD') {
    // distribution-spec "Checking if content exists": HEAD MUST carry Content-Length.
    res.statusCode = 200;
    res.setHeader('content-length', size);
    res.end();
    return;
  }
  if (range) {
    res.statusCode = 206;
    res.setHeader('content-range', `bytes ${range.start}-${range.end}/${size}`);
    res.setHeader('content-length', range.end - range.start + 1);
  } else {
    res.statusCode = 200;
    res.setHeader('content-length', size);
  }
  if (size === 0) {
    res.end();
    return;
  }
  // Streamed with backpressure; memory is flat whatever the blob size.
  await sendBody(ctx.storage.readBlob(digest, range ?? undefined), res);
}

/**
 * pipeline(body, res), plus: each chunk goes back to a body that reuses its buffers
 * (storage/file-blocks.ts) once the socket has taken it.
 */
function sendBody(body: Readable, res: ServerResponse): Promise<void> {
  const recycle = (body as { recycle?: (chunk: Buffer) => void }).recycle?.bind(body);
  if (!recycle) return pipeline(body, res);
  return new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      if (!res.write(chunk, () => recycle(chunk))) body.pause();
    };
    const onDrain = () => body.resume();
    const onEnd = () => {
      cleanup();
      res.end();
      resolve();
    };
    const onError = (err: Error) => {
      cleanup();
      res.destroy(err);
      reject(err);
    };
    const onClose = () => {
      // The client went away mid-body: stop reading (closes the file) like pipeline would.
      cleanup();
      body.destroy();
      reject(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    };
    const cleanup = () => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      res.off('drain', onDrain);
      res.off('close', onClose);
    };
    if (res.destroyed) {
      onClose();
      return;
    }
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

export async function deleteBlob(ctx: CoreContext, r: RequestInfo): Promise<void> {
  const { digest } = requireDigest(r.ref);
  // Only this repository's link goes; the bytes are reclaimed by `portcullis gc` once unreferenced.
  if (!(await ctx.repos.unlinkBlob(r.name, digest)))
    throw new RegistryError('BLOB_UNKNOWN', 'blob unknown to registry', { digest });
  send(r.res, 202, { 'docker-content-digest': digest });
}
