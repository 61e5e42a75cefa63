/**
 * portcullis' embedded OCI Distribution v1.1 registry core. It knows nothing of the gateway
 * (no auth, no TLS): `handle` answers any request under /v2 and the gateway calls it in-process.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino, type Logger } from 'pino';
import type { RegistryRoute } from '../oci/route.js';
import { KeyedLock, ManifestCache, UploadHashes, type CoreContext } from './context.js';
import { RepositoryStore } from './repository.js';
import { UsageRecorder } from './usage/usage-recorder.js';
import { countingPublishedBlobs, StoreTotal } from './usage/store-total.js';
import { UsageSurvey, type StorageUsage } from './usage/usage-survey.js';
import { dispatch } from './routes.js';
import { FilesystemStorage } from './storage/filesystem.js';
import type { S3Storage } from './storage/s3.js';
import type { S3Options } from './storage/s3-client.js';
import { openStorage } from './storage/open.js';
export { openStorage } from './storage/open.js';
import { withMetadataCache } from './storage/s3-cache.js';
import type { Storage } from './storage/types.js';
import { StorageUnusable } from './storage-unusable.js';

export { StorageUnusable } from './storage-unusable.js';
export { collectGarbage, type GcOptions, type GcResult } from './gc.js';
export type { Storage } from './storage/types.js';
export { UsageRecorder, type RepositoryUsage } from './usage/usage-recorder.js';
export type { RepositorySize } from './usage/repository-sizes.js';
export type { StorageUsage } from './usage/usage-survey.js';
export { FilesystemStorage } from './storage/filesystem.js';
export type { S3Options } from './storage/s3-client.js';
export { isS3Url, parseS3Url, type S3Location } from './storage/location.js';

function isS3(driver: FilesystemStorage | S3Storage): driver is S3Storage {
  return !(driver instanceof FilesystemStorage);
}

export interface RegistryCoreOptions {
  /** Root directory of the filesystem storage, or `s3://BUCKET/PREFIX`. */
  storage: string;
  /** S3 client options (endpoint, region, path-style, checksum mode) for an s3:// storage. */
  s3?: S3Options;
  /**
   * Blob GETs answer 307 to a presigned URL of the object (S3 storage only), or to
   * `base` + the object key when a CDN fronts the bucket. HEAD and manifests stay direct.
   */
  redirect?: { base?: string; expiresSeconds?: number };
  /** Cache hot metadata reads (tags, revisions, links, listings) this long, per instance; 0 = off. */
  metadataCacheTtlMs?: number;
  deleteEnabled: boolean;
  readOnly: boolean;
  logger?: Logger;
  /** Advertised as OCI-Chunk-Min-Length on upload sessions when set. */
  uploadChunkMinLength?: number;
  /** The clock for recorded push and pull times (tests inject their own). */
  now?: () => number;
  /** How often recorded pull/push times are written to the storage (default 30 s; also on close). */
  usageFlushIntervalMs?: number;
}

export interface RegistryCore {
  /** The storage and repository metadata, for layers built on the core (pull-through mirrors). */
  readonly storage: Storage;
  readonly repos: RepositoryStore;
  /** Last pull of each manifest and last push/pull of each repository (absent when read-only). */
  readonly usage?: UsageRecorder;
  /**
   * Answers any request whose raw req.url starts with /v2 (including GET /v2/ → 200 `{}`). No auth
   * here. `route` is the request's classification when the caller already has it.
   */
  handle(req: IncomingMessage, res: ServerResponse, route?: RegistryRoute): Promise<void>;
  /** Storage per repository (the `topN` largest, the rest summed) and the store total. */
  storageUsage(topN: number): Promise<StorageUsage>;
  health(): Promise<{ healthy: boolean; detail: string }>;
  /** Every repository (unsorted). */
  listRepositories(): Promise<string[]>;
  /** Tags of a repository (unsorted; [] when it has none). */
  listTags(repository: string): Promise<string[]>;
  close(): Promise<void>;
}

export async function createRegistryCore(opts: RegistryCoreOptions): Promise<RegistryCore> {
  const driver = await openStorage(opts.storage, opts.s3);
  const first = await driver.check(!opts.readOnly);
  if (!first.ok) throw new StorageUnusable('location', first.detail);
  if (isS3(driver) && !opts.readOnly) {
    const w = await driver.checkWrite();
    if (!w.ok) throw new StorageUnusable('location', w.detail);
  }
  if (opts.redirect && !isS3(driver)) throw new StorageUnusable('redirect', 'needs an s3:// storage');
  const cached: Storage = withMetadataCache(driver, opts.metadataCacheTtlMs ?? 0);
  const logger = opts.logger ?? pino({ level: 'silent' });
  const storeTotal = new StoreTotal(cached, {
    readOnly: opts.readOnly,
    flushIntervalMs: opts.usageFlushIntervalMs,
    logger,
  });
  storeTotal.start();
  const storage = countingPublishedBlobs(cached, storeTotal);
  const redirect = opts.redirect && isS3(driver) ? blobRedirect(driver, opts.redirect) : undefined;
  const repos = new RepositoryStore(storage, opts.now);
  repos.sizes.readOnly = opts.readOnly;
  repos.index.readOnly = opts.readOnly;
  repos.index.onBuildError = (e) => logger.warn({ err: e }, 'registry core: could not index the repositories yet');
  const usage = opts.readOnly
    ? undefined
    : new UsageRecorder(storage, { now: opts.now, flushIntervalMs: opts.usageFlushIntervalMs, logger });
  usage?.start();
  const ctx: CoreContext = {
    storage,
    repos,
    redirect,
    logger,
    usage,
    storeTotal,
    deleteEnabled: opts.deleteEnabled,
    readOnly: opts.readOnly,
    uploadChunkMinLength: opts.uploadChunkMinLength,
    hashes: new UploadHashes(),
    manifests: new ManifestCache(),
    locks: new KeyedLock(),
  };
  const survey = new UsageSurvey(repos, storeTotal, logger);
  let closed = false;
  return {
    storageUsage: (topN) => survey.figures(topN),
    storage,
    repos,
    usage,
    handle: (req, res, route) => dispatch(ctx, req, res, route),
    async listRepositories() {
      const out: string[] = [];
      for await (const name of repos.index.all()) out.push(name);
      return out;
    },
    listTags: (repository) => repos.listTags(repository),
    async health() {
      if (closed) return { healthy: false, detail: 'registry core closed' };
      const c = await storage.check(!opts.readOnly);
      return { healthy: c.ok, detail: c.detail };
    },
    async close() {
      closed = true;
      await usage?.stop().catch(() => {});
      await storeTotal.stop().catch(() => {});
      await survey.stop();
      await repos.index.close();
      ctx.hashes.clear();
      ctx.manifests.clear();
      if (isS3(driver)) driver.destroy();
    },
  };
}

/** Where a blob GET is redirected: a presigned URL of the object, or the same key under a CDN origin. */
function blobRedirect(
  driver: S3Storage,
  opts: { base?: string; expiresSeconds?: number },
): (digest: string) => Promise<string> {
  const expires = opts.expiresSeconds ?? 900;
  if (opts.base) {
    const base = opts.base.replace(/\/+$/, '');
    return async (digest) => `${base}/${driver.blobKey(digest)}`;
  }
  return (digest) => driver.presignBlob(digest, expires);
}
