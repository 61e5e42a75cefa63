/**
 * Garbage collection: mark everything reachable from tags (through index children, config and
 * layers) and from referrers of reachable manifests (their `subject`), then sweep the rest.
 *
 * Safe while servers run on the same storage: nothing younger than the grace period is
 * touched (in-flight pushes: uploads commit blobs before their manifest arrives, and a
 * manifest PUT refreshes the mtime of every blob it references), and every candidate's age is
 * checked again right before it is removed.
 */
import type { Logger } from 'pino';
import { RepositoryStore } from './repository.js';
import { FilesystemStorage } from './storage/filesystem.js';
import type { S3Storage } from './storage/s3.js';
import type { S3Options } from './storage/s3-client.js';
import { openStorage } from './storage/open.js';
import { parseManifest } from './manifest-parse.js';
import { StorageUnusable } from './storage-unusable.js';
import { writeStoreTotal } from './usage/store-total.js';

/** `storage`: a directory or `s3://BUCKET/PREFIX` (with `s3` client options). */
export interface GcOptions {
  storage: string;
  s3?: S3Options;
  dryRun: boolean;
  gracePeriodMs: number;
  logger?: Logger;
  /** The clock (tests inject their own). */
  now?: () => number;
  /**
   * How long a manifest no tag reaches is kept, per repository (retention's
   * deleteUntaggedAfter); never shorter than the grace period. Default: the grace period.
   */
  untaggedGracePeriodMs?: (repository: string) => number | undefined;
}
export interface GcResult {
  blobsDeleted: number;
  bytesFreed: number;
  manifestsDeleted: number;
  kept: number;
}

export async function collectGarbage(opts: GcOptions): Promise<GcResult> {
  const storage = await openStorage(opts.storage, opts.s3);
  const s3 = !(storage instanceof FilesystemStorage) ? storage : undefined;
  try {
    if (s3) {
      const c = await s3.check(!opts.dryRun);
      if (!c.ok) throw new StorageUnusable('location', c.detail);
    }
    return await sweep(storage, opts);
  } finally {
    s3?.destroy();
  }
}

async function sweep(storage: FilesystemStorage | S3Storage, opts: GcOptions): Promise<GcResult> {
  const repos = new RepositoryStore(storage);
  const now = (opts.now ?? Date.now)();
  const cutoff = now - opts.gracePeriodMs;
  const log = opts.logger;
  const result: GcResult = { blobsDeleted: 0, bytesFreed: 0, manifestsDeleted: 0, kept: 0 };
  const markedBlobs = new Set<string>();

  for (const repo of await repos.listRepositories()) {
    const markedManifests = new Set<string>();
    const queue: string[] = [];
    for (const tag of await repos.listTags(repo)) {
      const d = await repos.getTag(repo, tag);
      if (d) queue.push(d);
    }
    const visit = async (digest: string): Promise<void> => {
      if (markedManifests.has(digest)) return;
      const rev = await repos.getRevision(repo, digest);
      if (!rev) return;
      markedManifests.add(digest);
      markedBlobs.add(digest);
      const body = await storage.readBlobBuffer(digest);
      if (!body) return;
      let m: ReturnType<typeof parseManifest>;
      try {
        m = parseManifest(body, rev.mediaType);
      } catch {
        return;
      }
      for (const b of m.blobs) markedBlobs.add(b.digest);
      for (const c of m.children) queue.push(c.digest);
      // Referrers of a reachable manifest are reachable (signatures, SBOMs, ...).
      for (const ref of await repos.listReferrers(repo, digest)) queue.push(ref.digest);
    };
    while (queue.length) await visit(queue.shift()!);

    // Sweep unreachable manifest revisions of this repository.
    const untaggedCutoff = now - Math.max(opts.gracePeriodMs, opts.untaggedGracePeriodMs?.(repo) ?? 0);
    for (const digest of await repos.listRevisions(repo)) {
      if (markedManifests.has(digest)) continue;
      // The recorded push time or the document's mtime, whichever is older (both move on a re-push).
      const pushedAt = (await repos.getRevision(repo, digest))?.pushedAt;
      const stamped = await repos.revisionMtime(repo, digest);
      const mtime = pushedAt === undefined || stamped === null ? stamped : Math.min(pushedAt, stamped);
      if (mtime === null || mtime > untaggedCutoff) {
        markedBlobs.add(digest); // young: keep it and what it references
        const body = await storage.readBlobBuffer(digest);
        if (body) {
          try {
            const m = parseManifest(body, (await repos.getRevision(repo, digest))?.mediaType);
            for (const b of m.blobs) markedBlobs.add(b.digest);
          } catch {
            /* unparsable: its blobs fall to the grace period */
          }
        }
        continue;
      }
      result.manifestsDeleted++;
      log?.info({ repo, digest }, 'gc: unreferenced manifest');
      if (!opts.dryRun) {
        const rev = await repos.getRevision(repo, digest);
        await repos.deleteRevision(repo, digest);
        if (rev?.subject) await repos.deleteReferrer(repo, rev.subject, digest);
      }
    }
    // Drop this repository's links to blobs nothing reaches any more.
    for (const digest of await repos.listBlobLinks(repo)) {
      if (markedBlobs.has(digest)) continue;
      const mtime = await repos.blobLinkMtime(repo, digest);
      const blob = await storage.statBlob(digest);
      // A young link or a blob refreshed lately (mount, manifest PUT) is an in-flight push.
      if (mtime === null || mtime > cutoff || (blob && blob.mtimeMs > cutoff)) {
        markedBlobs.add(digest);
        continue;
      }
      if (!opts.dryRun) await repos.unlinkBlob(repo, digest);
    }
    // The repository's tag count and bytes, recomputed from what it now holds: gc corrects
    // any figure that drifted (two instances writing one repository at the same instant).
    if (!opts.dryRun) await repos.sizes.rebuild(repo);
  }

  const kept = { bytes: 0, blobs: 0 };
  for await (const blob of storage.listBlobs()) {
    if (markedBlobs.has(blob.digest) || blob.mtimeMs > cutoff) {
      result.kept++;
      kept.bytes += blob.size;
      kept.blobs++;
      continue;
    }
    // Re-check right before deleting: a push may have just refreshed it.
    const now = await storage.statBlob(blob.digest);
    if (!now || now.mtimeMs > cutoff) {
      result.kept++;
      kept.bytes += blob.size;
      kept.blobs++;
      continue;
    }
    result.blobsDeleted++;
    result.bytesFreed += now.size;
    log?.info({ digest: blob.digest, size: now.size }, 'gc: unreferenced blob');
    if (!opts.dryRun) await storage.deleteBlob(blob.digest);
  }
  // The store total, exact as of this listing (every blob once).
  if (!opts.dryRun) await writeStoreTotal(storage, kept);

  // Abandoned upload sessions (no write within the grace period).
  for (const id of await storage.listUploads()) {
    const u = await storage.getUpload(id);
    if (u && u.mtimeMs <= cutoff && !opts.dryRun) await storage.deleteUpload(id);
  }
  // Temp files a kill -9 left behind mid-write (never visible under a final name); on S3,
  // multipart uploads and session objects no session document owns.
  await storage.cleanTemp(cutoff, opts.dryRun);
  return result;
}
