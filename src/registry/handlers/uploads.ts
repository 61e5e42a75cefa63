/**
 * Blob uploads (distribution-spec "Pushing blobs"): POST (session, single-request monolithic,
 * cross-repository mount), PATCH (chunked, or streamed without Content-Length as docker does),
 * PUT (close with ?digest=), GET (status), DELETE (cancel).
 *
 * Sessions live in storage, so a restart or another process sharing the storage can carry
 * on. Bytes are hashed while they stream to disk; the digest is verified before anything is
 * published, and a mismatch stores nothing.
 */
import { createHash, type Hash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { RegistryError } from '../../oci/errors.js';
import type { CoreContext } from '../context.js';
import { requireDigest, type Algorithm, type ParsedDigest } from '../../oci/digest.js';
import { hasBody } from '../../oci/body.js';
import { Coalescer } from '../../oci/coalesce.js';
import { contentLength, discardBody, send, uploadRange } from '../http.js';
import { isRepositoryName, UPLOAD_ID } from '../../oci/names.js';
import type { RequestInfo } from '../routes.js';
import { UploadOffsetError } from '../storage/filesystem.js';
import type { UploadInfo } from '../storage/types.js';

function sessionLocation(name: string, id: string): string {
  // Relative, like zot: immune to proxies, TLS termination and Host rewriting (pitfall #5).
  return `/v2/${name}/blobs/uploads/${id}`;
}

function blobLocation(name: string, digest: string): string {
  return `/v2/${name}/blobs/${digest}`;
}

function progressHeaders(name: string, id: string, size: number): Record<string, string> {
  return { location: sessionLocation(name, id), range: uploadRange(size), 'docker-upload-uuid': id };
}

async function getSession(ctx: CoreContext, r: RequestInfo): Promise<UploadInfo & { size: number }> {
  const s = UPLOAD_ID.test(r.ref) ? await ctx.storage.getUpload(r.ref) : null;
  if (!s || s.repository !== r.name)
    throw new RegistryError('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', { session: r.ref });
  return s;
}

/** Content-Range of a chunk: the spec's `<start>-<end>` (inclusive); `bytes ` forms tolerated. */
function parseContentRange(value: string | undefined): { start: number; end: number } | null {
  if (value === undefined) return null;
  const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(value.trim());
  if (!m || Number(m[2]) < Number(m[1]))
    throw new RegistryError('BLOB_UPLOAD_INVALID', 'invalid Content-Range', { contentRange: value });
  return { start: Number(m[1]), end: Number(m[2]) };
}

/**
 * Stream the request body into the session at `offset`, feeding `hash` on the way. A chunk
 * that does not arrive whole is cut off again, so a session only ever grows by whole chunks.
 */
async function receive(
  ctx: CoreContext,
  id: string,
  offset: number,
  req: IncomingMessage,
  hash: Hash | null,
): Promise<number> {
  // Hashed and written in 256 KiB blocks rather than per 16 KiB TLS record (src/oci/coalesce.ts).
  const blocks = new Coalescer(256 * 1024, hash ? (b) => hash.update(b) : undefined, true);
  const endedEarly = () => {
    if (!req.complete) blocks.destroy(Object.assign(new Error('request body ended early'), { code: 'ECONNRESET' }));
  };
  const onError = (e: Error) => blocks.destroy(e);
  // Failures reach the caller through appendUpload's pipeline; this only keeps an error that
  // arrives when no pipeline is listening (storage refused before reading) from being unhandled.
  blocks.on('error', () => {});
  req.on('close', endedEarly);
  req.on('error', onError);
  // A client gone while the session was being set up: its 'close' has already fired.
  if (req.destroyed) endedEarly();
  req.pipe(blocks);
  try {
    return await ctx.storage.appendUpload(id, offset, blocks);
  } catch (e) {
    // If the storage failed (disk full), the request stays open (only unpiped) so the client
    // can still be told why, instead of seeing a reset.
    req.unpipe(blocks);
    blocks.destroy();
    ctx.hashes.drop(id);
    if (e instanceof UploadOffsetError) throw rangeError(ctx, id, e.size);
    if (blocks.bytes > 0) await ctx.storage.truncateUpload(id, offset).catch(() => {});
    throw e;
  } finally {
    req.off('close', endedEarly);
    req.off('error', onError);
  }
}

function rangeError(_ctx: CoreContext, id: string, size: number, name?: string): RegistryError {
  const headers: Record<string, string> = { range: uploadRange(size), 'docker-upload-uuid': id };
  if (name) headers.location = sessionLocation(name, id);
  // "Pushing a blob in chunks": out-of-order chunks MUST get 416.
  return new RegistryError(
    'BLOB_UPLOAD_INVALID',
    'chunk out of order: it must start where the upload ends',
    { size },
    416,
    headers,
  );
}

/** Hash of the whole session, from this process's incremental state or re-read from storage. */
async function sessionDigest(
  ctx: CoreContext,
  id: string,
  size: number,
  algorithm: Algorithm,
  hash: Hash | null,
  hashAlgorithm: Algorithm,
): Promise<string> {
  if (hash && algorithm === hashAlgorithm) return `${algorithm}:${hash.digest('hex')}`;
  const h = createHash(algorithm);
  let n = 0;
  for await (const chunk of ctx.storage.readUpload(id)) {
    h.update(chunk as Buffer);
    n += (chunk as Buffer).length;
  }
  // Another request wrote to the session meanwhile: the client must not take this digest as checked.
  if (n !== size)
    throw new RegistryError('BLOB_UPLOAD_INVALID', 'the upload changed while it was being verified', { id });
  return `${algorithm}:${h.digest('hex')}`;
}

/** Verify and publish: digest mismatch → 400 DIGEST_INVALID and the session's bytes are dropped. */
async function commit(
  ctx: CoreContext,
  r: RequestInfo,
  id: string,
  size: number,
  expected: ParsedDigest,
  hash: Hash | null,
  hashAlgorithm: Algorithm = 'sha256',
): Promise<void> {
  const actual = await sessionDigest(ctx, id, size, expected.algorithm, hash, hashAlgorithm);
  if (actual !== expected.digest) {
    await ctx.storage.deleteUpload(id);
    throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', {
      expected: expected.digest,
      actual,
    });
  }
  await ctx.storage.commitUpload(id, expected.digest);
  await ctx.repos.linkBlob(r.name, expected.digest);
  send(r.res, 201, { location: blobLocation(r.name, expected.digest), 'docker-content-digest': expected.digest });
}

/** POST /v2/<name>/blobs/uploads/ (end-4a, end-4b, end-11). */
export async function startUpload(ctx: CoreContext, r: RequestInfo): Promise<void> {
  const mount = r.query.get('mount');
  if (mount !== null) {
    const { digest } = requireDigest(mount, 'mount digest');
    const from = r.query.get('from');
    // "Mounting a blob from another repository": 201 when the blob is in `from`; otherwise
    // fall through to an ordinary session (202), which the client then uses to upload.
    if (
      from &&
      isRepositoryName(from) &&
      (await ctx.repos.hasBlob(from, digest)) &&
      (await ctx.storage.statBlob(digest))
    ) {
      discardBody(r.req);
      await ctx.storage.touchBlob(digest);
      await ctx.repos.linkBlob(r.name, digest);
      return send(r.res, 201, { location: blobLocation(r.name, digest), 'docker-content-digest': digest });
    }
  }

  const digestParam = r.query.get('digest');
  if (digestParam !== null) {
    // Single POST monolithic upload (end-4b).
    const expected = requireDigest(digestParam);
    const session = await ctx.storage.createUpload(r.name);
    const hash = createHash(expected.algorithm);
    return ctx.locks.run(session.id, async () => {
      const size = await receive(ctx, session.id, 0, r.req, hash);
      const declared = contentLength(r.req);
      if (declared !== null && declared !== size) {
        await ctx.storage.deleteUpload(session.id);
        throw new RegistryError('SIZE_INVALID', 'body length does not match Content-Length');
      }
      await commit(ctx, r, session.id, size, expected, hash, expected.algorithm);
    });
  }

  discardBody(r.req);
  const session = await ctx.storage.createUpload(r.name);
  const headers: Record<string, string | number> = progressHeaders(r.name, session.id, 0);
  if (ctx.uploadChunkMinLength) headers['oci-chunk-min-length'] = ctx.uploadChunkMinLength;
  send(r.res, 202, headers);
}

/** GET <location> (end-13): 204 with Range and Location. */
export async function uploadStatus(ctx: CoreContext, r: RequestInfo): Promise<void> {
  const s = await getSession(ctx, r);
  send(r.res, 204, progressHeaders(r.name, s.id, s.size));
}

/** PATCH <location> (end-5): append a chunk (Content-Range) or a stream (no Content-Length). */
export async function continueUpload(ctx: CoreContext, r: RequestInfo): Promise<void> {
  const s = await getSession(ctx, r);
  await ctx.locks.run(s.id, async () => {
    const cur = (await ctx.storage.getUpload(s.id))?.size;
    if (cur === undefined)
      throw new RegistryError('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', { session: s.id });
    const range = parseContentRange(r.req.headers['content-range']);
    if (range && range.start !== cur) throw rangeError(ctx, s.id, cur, r.name);
    const declared = contentLength(r.req);
    if (range && declared !== null && declared !== range.end - range.start + 1) {
      throw new RegistryError('BLOB_UPLOAD_INVALID', 'Content-Length does not match Content-Range', {
        contentRange: r.req.headers['content-range'],
        contentLength: declared,
      });
    }
    const hash = ctx.hashes.take(s.id, cur) ?? (cur === 0 ? createHash('sha256') : null);
    const size = await receive(ctx, s.id, cur, r.req, hash);
    if ((range && size !== range.end + 1) || (declared !== null && size !== cur + declared)) {
      await ctx.storage.truncateUpload(s.id, cur);
      throw new RegistryError('BLOB_UPLOAD_INVALID', 'chunk length does not match Content-Range/Content-Length', {
        received: size - cur,
      });
    }
    if (hash) ctx.hashes.put(s.id, size, hash);
    send(r.res, 202, progressHeaders(r.name, s.id, size));
  });
}

/** PUT <location>?digest= (end-6): optional last chunk, verify, publish. */
export async function finishUpload(ctx: CoreContext, r: RequestInfo): Promise<void> {
  const s = await getSession(ctx, r);
  const expected = requireDigest(r.query.get('digest'));
  await ctx.locks.run(s.id, async () => {
    let size = (await ctx.storage.getUpload(s.id))?.size;
    if (size === undefined)
      throw new RegistryError('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', { session: s.id });
    // Incremental sha256 state from earlier PATCHes here; otherwise re-read at commit.
    const hash = ctx.hashes.take(s.id, size) ?? (size === 0 ? createHash('sha256') : null);
    if (hasBody(r.req)) {
      const range = parseContentRange(r.req.headers['content-range']);
      if (range && range.start !== size) throw rangeError(ctx, s.id, size, r.name);
      const before = size;
      const declared = contentLength(r.req);
      size = await receive(ctx, s.id, size, r.req, hash);
      if (declared !== null && size !== before + declared) {
        await ctx.storage.truncateUpload(s.id, before);
        throw new RegistryError('SIZE_INVALID', 'body length does not match Content-Length');
      }
    }
    await commit(ctx, r, s.id, size, expected, hash);
  });
}

/** DELETE <location> (end-14): cancel. */
export async function cancelUpload(ctx: CoreContext, r: RequestInfo): Promise<void> {
  const s = await getSession(ctx, r);
  ctx.hashes.drop(s.id);
  await ctx.storage.deleteUpload(s.id);
  send(r.res, 204);
}
