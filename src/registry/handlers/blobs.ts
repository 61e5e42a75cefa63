/** GET/HEAD/DELETE /v2/<name>/blobs/<digest> (distribution-spec "Pulling blobs", "Deleting Blobs"). */
import { pipeline } from 'node:stream/promises';
import { API_VERSION, API_VERSION_HEADER, RegistryError } from '../../oci/errors.js';
import type { CoreContext } from '../context.js';
import { parseDigest, requireDigest } from '../../oci/digest.js';
import { parseRange, send } from '../http.js';
import type { RequestInfo } from '../routes.js';

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
  if (r.method === 'GET' && ctx.redirect) {
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
  await pipeline(ctx.storage.readBlob(digest, range ?? undefined), res);
}

export async function deleteBlob(ctx: CoreContext, r: RequestInfo): Promise<void> {
  const { digest } = requireDigest(r.ref);
  // Only this repository's link goes; the bytes are reclaimed by `portcullis gc` once unreferenced.
  if (!(await ctx.repos.unlinkBlob(r.name, digest)))
    throw new RegistryError('BLOB_UNKNOWN', 'blob unknown to registry', { digest });
  send(r.res, 202, { 'docker-content-digest': digest });
}
