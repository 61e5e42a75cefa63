/**
 * S3-compatible object storage driver (AWS S3, Ceph RGW, MinIO, OpenStack Swift's s3api).
 *
 *   <prefix>blobs/<alg>/<xx>/<hex>        content-addressed blobs (only ever written whole and verified)
 *   <prefix>touched/<alg>/<hex>           "blob used at" markers (gc grace period; S3 has no utimes)
 *   <prefix>uploads/<uuid>/...            upload sessions (see s3-uploads.ts)
 *   <prefix>meta/<key>                    tags, revisions, repository links, referrers
 *
 * Every object PUT is atomic in S3: a reader sees the old or the new object, never a mix. A
 * blob key is only written by a copy of a completed, digest-verified upload (or by `putBlob`
 * of verified bytes), so a crash at any moment leaves no wrong object at a digest's key.
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCopyCommand,
  AbortMultipartUploadCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { parseDigest, type Algorithm } from '../../oci/digest.js';
import { UPLOAD_ID } from '../../oci/names.js';
import { createS3Client, describeS3Error, isNotFound, parseS3Url, type S3Options } from './s3-client.js';
import { S3Uploads } from './s3-uploads.js';
import type { BlobStat, Storage, UploadInfo } from './types.js';

/** Largest single CopyObject S3 allows; bigger blobs are copied part by part. */
const MAX_COPY = 5 * 1024 ** 3;
const COPY_PART = 1024 ** 3;

export interface S3StorageOptions extends S3Options {
  /** Bytes buffered per upload before a part goes out (≥ 5 MiB). Default 8 MiB. */
  partSize?: number;
  client?: S3Client;
}

/** Names and digests reach storage only after the route grammar (src/oci/names.ts) accepted them: this is the last guard. */
function safeKey(key: string): string {
  for (const seg of key.split('/')) {
    if (seg === '' || seg === '.' || seg === '..' || seg.includes('\\') || seg.includes('\0')) {
      throw new Error(`unsafe storage key segment ${JSON.stringify(seg)}`);
    }
  }
  return key;
}

export class S3Storage implements Storage {
  readonly client: S3Client;
  readonly bucket: string;
  readonly prefix: string;
  readonly endpoint?: string;
  readonly uploads: S3Uploads;

  constructor(url: string, opts: S3StorageOptions = {}) {
    const loc = parseS3Url(url);
    this.bucket = loc.bucket;
    this.prefix = loc.prefix;
    this.endpoint = opts.endpoint;
    this.client = opts.client ?? createS3Client(opts);
    this.uploads = new S3Uploads(
      { client: this.client, bucket: this.bucket, prefix: this.prefix },
      opts.partSize ?? 8 << 20,
    );
  }

  get description(): string {
    return `s3://${this.bucket}/${this.prefix}${this.endpoint ? ` at ${this.endpoint}` : ''}`;
  }

  blobKey(digest: string): string {
    const d = parseDigest(digest);
    if (!d) throw new Error(`not a digest: ${digest}`); // callers pass checked digests only
    return `${this.prefix}blobs/${d.algorithm}/${d.hex.slice(0, 2)}/${d.hex}`;
  }
  private touchKey(digest: string): string {
    const d = parseDigest(digest)!;
    return `${this.prefix}touched/${d.algorithm}/${d.hex}`;
  }
  private metaKey(key: string): string {
    return `${this.prefix}meta/${safeKey(key)}`;
  }

  private async head(key: string): Promise<{ size: number; mtimeMs: number } | null> {
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: r.ContentLength ?? 0, mtimeMs: r.LastModified?.getTime() ?? 0 };
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  private async get(key: string): Promise<Buffer | null> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return Buffer.from(await r.Body!.transformToByteArray());
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  private async put(key: string, data: Buffer | string): Promise<void> {
    const body = typeof data === 'string' ? Buffer.from(data) : data;
    await this.client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentLength: body.length }),
    );
  }

  private async del(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  /** Every object under a prefix (paginated), optionally only the immediate "directories" and objects. */
  private async *list(
    prefix: string,
    delimiter?: string,
  ): AsyncIterable<{ key?: string; dir?: string; size?: number; mtimeMs?: number }> {
    let token: string | undefined;
    do {
      const r = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          Delimiter: delimiter,
          ContinuationToken: token,
        }),
      );
      for (const p of r.CommonPrefixes ?? []) yield { dir: p.Prefix! };
      for (const o of r.Contents ?? [])
        yield { key: o.Key!, size: o.Size ?? 0, mtimeMs: o.LastModified?.getTime() ?? 0 };
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
  }

  // --- blobs -------------------------------------------------------------------------------

  async statBlob(digest: string): Promise<BlobStat | null> {
    // The touch marker says when the blob was last used (mount, manifest PUT, re-push).
    const [blob, touched] = await Promise.all([this.head(this.blobKey(digest)), this.head(this.touchKey(digest))]);
    if (!blob) return null;
    return { size: blob.size, mtimeMs: Math.max(blob.mtimeMs, touched?.mtimeMs ?? 0) };
  }

  readBlob(digest: string, range?: { start: number; end: number }): Readable {
    const key = this.blobKey(digest);
    const self = this;
    return Readable.from(
      (async function* () {
        const r = await self.client.send(
          new GetObjectCommand({
            Bucket: self.bucket,
            Key: key,
            Range: range ? `bytes=${range.start}-${range.end}` : undefined,
          }),
        );
        yield* r.Body as Readable;
      })(),
      { objectMode: false },
    );
  }

  async readBlobBuffer(digest: string): Promise<Buffer | null> {
    return this.get(this.blobKey(digest));
  }

  async putBlob(digest: string, data: Buffer): Promise<void> {
    if (await this.head(this.blobKey(digest))) return this.touchBlob(digest);
    await this.put(this.blobKey(digest), data);
  }

  async touchBlob(digest: string): Promise<void> {
    await this.put(this.touchKey(digest), '');
  }

  async deleteBlob(digest: string): Promise<boolean> {
    const key = this.blobKey(digest);
    if (!(await this.head(key))) return false;
    await this.del(key);
    await this.del(this.touchKey(digest)).catch(() => {});
    return true;
  }

  async *listBlobs(): AsyncIterable<{ digest: string; algorithm: Algorithm } & BlobStat> {
    const touched = new Map<string, number>();
    for await (const o of this.list(`${this.prefix}touched/`)) {
      const m = /\/touched\/(sha256|sha512)\/([a-f0-9]+)$/.exec(o.key!);
      if (m) touched.set(`${m[1]}:${m[2]}`, o.mtimeMs!);
    }
    for await (const o of this.list(`${this.prefix}blobs/`)) {
      const m = /\/?blobs\/(sha256|sha512)\/[a-f0-9]{2}\/([a-f0-9]+)$/.exec(o.key!);
      if (!m) continue;
      const digest = `${m[1]}:${m[2]}`;
      if (!parseDigest(digest)) continue;
      yield {
        digest,
        algorithm: m[1] as Algorithm,
        size: o.size!,
        mtimeMs: Math.max(o.mtimeMs!, touched.get(digest) ?? 0),
      };
    }
  }

  /** Server-side copy of a whole object (part by part above 5 GiB). Atomic for readers of `target`. */
  private async copy(source: string, target: string, size: number): Promise<void> {
    const src = `${this.bucket}/${source.split('/').map(encodeURIComponent).join('/')}`;
    if (size <= MAX_COPY) {
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: target,
          CopySource: src,
          MetadataDirective: 'REPLACE',
          ContentType: 'application/octet-stream',
        }),
      );
      return;
    }
    const { UploadId } = await this.client.send(
      new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: target, ContentType: 'application/octet-stream' }),
    );
    try {
      const parts: { PartNumber: number; ETag: string }[] = [];
      for (let start = 0, n = 1; start < size; start += COPY_PART, n++) {
        const end = Math.min(size, start + COPY_PART) - 1;
        const r = await this.client.send(
          new UploadPartCopyCommand({
            Bucket: this.bucket,
            Key: target,
            UploadId,
            PartNumber: n,
            CopySource: src,
            CopySourceRange: `bytes=${start}-${end}`,
          }),
        );
        parts.push({ PartNumber: n, ETag: r.CopyPartResult!.ETag! });
      }
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: target,
          UploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
    } catch (e) {
      await this.client
        .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: target, UploadId }))
        .catch(() => {});
      throw e;
    }
  }

  /** A time-limited URL to GET the blob directly from the bucket (storage redirects). */
  async presignBlob(digest: string, expiresInSeconds: number): Promise<string> {
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: this.blobKey(digest) }), {
      expiresIn: expiresInSeconds,
    });
  }

  // --- uploads -----------------------------------------------------------------------------

  async createUpload(repository: string): Promise<UploadInfo> {
    const doc = await this.uploads.create(repository, randomUUID());
    return { id: doc.id, repository: doc.repository, startedAt: doc.startedAt };
  }

  async getUpload(id: string): Promise<(UploadInfo & { size: number; mtimeMs: number }) | null> {
    if (!UPLOAD_ID.test(id)) return null;
    const doc = await this.uploads.load(id);
    if (!doc) return null;
    return { id, repository: doc.repository, startedAt: doc.startedAt, size: doc.state.size, mtimeMs: doc.updatedAt };
  }

  // Upload ids come from getUpload(), which answers null for one of another shape (the handler
  // then sends BLOB_UPLOAD_UNKNOWN): the checks below guard the code, not the input.
  appendUpload(id: string, offset: number, data: Readable): Promise<number> {
    if (!UPLOAD_ID.test(id)) throw new Error('bad upload id');
    return this.uploads.append(id, offset, data);
  }

  truncateUpload(id: string, size: number): Promise<void> {
    if (!UPLOAD_ID.test(id)) throw new Error('bad upload id');
    return this.uploads.truncate(id, size);
  }

  readUpload(id: string): Readable {
    if (!UPLOAD_ID.test(id)) throw new Error('bad upload id');
    return this.uploads.read(id);
  }

  async commitUpload(id: string, digest: string): Promise<void> {
    if (!UPLOAD_ID.test(id)) throw new Error('bad upload id');
    const doc = await this.uploads.load(id);
    if (!doc) throw Object.assign(new Error(`upload ${id} not found`), { code: 'ENOENT' });
    const target = this.blobKey(digest);
    // Same digest, same bytes: an existing blob only needs its "used" time refreshed.
    if (await this.head(target)) {
      await this.touchBlob(digest);
    } else {
      const source = await this.uploads.complete(doc);
      if (source === null) await this.put(target, Buffer.alloc(0));
      else await this.copy(source, target, doc.state.size);
    }
    await this.uploads.remove(id, doc);
  }

  async deleteUpload(id: string): Promise<boolean> {
    if (!UPLOAD_ID.test(id)) return false;
    return this.uploads.remove(id);
  }

  async listUploads(): Promise<string[]> {
    const out: string[] = [];
    for await (const o of this.list(`${this.prefix}uploads/`, '/')) {
      const name = o.dir?.slice(`${this.prefix}uploads/`.length, -1);
      if (name && UPLOAD_ID.test(name)) out.push(name);
    }
    return out;
  }

  /**
   * gc: abort multipart uploads and delete session objects that no session document owns any
   * more (a kill -9 between creating and recording them), older than `cutoffMs`.
   */
  async cleanTemp(cutoffMs: number, dryRun = false): Promise<number> {
    let n = 0;
    const live = new Set(await this.listUploads());
    const alive = async (id: string) => live.has(id) && (await this.uploads.load(id)) !== null;
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    do {
      const r = await this.client.send(
        new ListMultipartUploadsCommand({
          Bucket: this.bucket,
          Prefix: `${this.prefix}uploads/`,
          KeyMarker: keyMarker,
          UploadIdMarker: idMarker,
        }),
      );
      for (const u of r.Uploads ?? []) {
        const id = u.Key!.slice(`${this.prefix}uploads/`.length).split('/')[0]!;
        if ((u.Initiated?.getTime() ?? 0) > cutoffMs) continue;
        const doc = live.has(id) ? await this.uploads.load(id) : null;
        if (doc?.mpu === u.UploadId) continue;
        n++;
        if (!dryRun)
          await this.client
            .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.Key!, UploadId: u.UploadId! }))
            .catch(() => {});
      }
      keyMarker = r.IsTruncated ? r.NextKeyMarker : undefined;
      idMarker = r.IsTruncated ? r.NextUploadIdMarker : undefined;
    } while (keyMarker);
    for await (const o of this.list(`${this.prefix}uploads/`)) {
      const id = o.key!.slice(`${this.prefix}uploads/`.length).split('/')[0]!;
      if (o.mtimeMs! > cutoffMs || (await alive(id))) continue;
      n++;
      if (!dryRun) await this.del(o.key!).catch(() => {});
    }
    return n;
  }

  // --- metadata ----------------------------------------------------------------------------

  async readMeta(key: string): Promise<Buffer | null> {
    return this.get(this.metaKey(key));
  }

  /** A document, or a "directory" (any key below it: e.g. a repository exists). */
  async statMeta(key: string): Promise<{ mtimeMs: number } | null> {
    const doc = await this.head(this.metaKey(key));
    if (doc) return { mtimeMs: doc.mtimeMs };
    const r = await this.client.send(
      new ListObjectsV2Command({ Bucket: this.bucket, Prefix: `${this.metaKey(key)}/`, MaxKeys: 1 }),
    );
    const first = r.Contents?.[0];
    return first ? { mtimeMs: first.LastModified?.getTime() ?? 0 } : null;
  }

  async writeMeta(key: string, data: Buffer | string): Promise<void> {
    return this.put(this.metaKey(key), data);
  }

  async deleteMeta(key: string): Promise<boolean> {
    const k = this.metaKey(key);
    if (!(await this.head(k))) return false;
    await this.del(k);
    return true;
  }

  async listMeta(prefix: string): Promise<string[]> {
    const base = `${this.metaKey(prefix)}/`;
    const out: string[] = [];
    for await (const o of this.list(base, '/')) {
      const name = (o.dir ?? o.key!).slice(base.length).replace(/\/$/, '');
      if (name) out.push(name);
    }
    return out;
  }

  /** S3 lists keys in byte order and starts after any key: one request per 1,000 names. */
  async listMetaPage(
    prefix: string,
    after: string | undefined,
    limit: number,
  ): Promise<{ names: string[]; more: boolean }> {
    const base = `${this.metaKey(prefix)}/`;
    const names: string[] = [];
    let token: string | undefined;
    do {
      const want = Math.min(1000, limit + 1 - names.length);
      const r = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: base,
          Delimiter: '/',
          MaxKeys: want,
          ContinuationToken: token,
          StartAfter: token || after === undefined ? undefined : `${base}${after}`,
        }),
      );
      const found = [
        ...(r.CommonPrefixes ?? []).map((p) => p.Prefix!.slice(base.length).replace(/\/$/, '')),
        ...(r.Contents ?? []).map((o) => o.Key!.slice(base.length)),
      ]
        .filter((n) => n && (after === undefined || n > after))
        .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      names.push(...found);
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token && names.length <= limit);
    return { names: names.slice(0, limit), more: names.length > limit || Boolean(token) };
  }

  async deleteMetaTree(prefix: string): Promise<void> {
    const keys: string[] = [];
    for await (const o of this.list(`${this.metaKey(prefix)}/`)) keys.push(o.key!);
    for (let i = 0; i < keys.length; i += 16) await Promise.all(keys.slice(i, i + 16).map((k) => this.del(k)));
  }

  async check(writable: boolean): Promise<{ ok: boolean; detail: string }> {
    const where = { bucket: this.bucket, endpoint: this.endpoint };
    try {
      await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix, MaxKeys: 1 }), {
        abortSignal: AbortSignal.timeout(15_000),
      });
      return { ok: true, detail: `S3 storage ${this.description}${writable ? '' : ' (read-only)'}` };
    } catch (e) {
      return { ok: false, detail: describeS3Error(e, where) };
    }
  }

  /** Start-up: a write too, so read-only credentials are found before the first push. */
  async checkWrite(): Promise<{ ok: boolean; detail: string }> {
    const key = `${this.prefix}_portcullis/probe-${randomUUID()}`;
    try {
      await this.put(key, 'probe');
      await this.del(key);
      return { ok: true, detail: `S3 storage ${this.description}` };
    } catch (e) {
      return {
        ok: false,
        detail: `${describeS3Error(e, { bucket: this.bucket, endpoint: this.endpoint })} (writing a probe object)`,
      };
    }
  }

  destroy(): void {
    this.client.destroy();
  }
}
