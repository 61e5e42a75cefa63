/**
 * The storage the registry core runs on. Small on purpose, so that an object-store driver
 * (S3) can follow the filesystem one:
 *
 * - blobs: immutable, content-addressed, written only through an upload commit or
 *   `putBlob` (both verify-then-publish, so a partial or wrong blob is never visible);
 * - uploads: append-only session files that outlive the process (another process sharing
 *   the storage can continue them);
 * - metadata: small documents under slash-separated keys (tags, manifest revisions,
 *   repository blob links, referrers), each written atomically.
 *
 * Keys and ids given to a driver are validated by the core (digests, repository names, tags
 * and upload ids all have strict grammars); drivers still refuse anything that could escape
 * their root.
 */
import type { Readable } from 'node:stream';
import type { Algorithm } from '../../oci/digest.js';

export interface BlobStat {
  size: number;
  mtimeMs: number;
}

export interface UploadInfo {
  id: string;
  repository: string;
  startedAt: string;
}

export interface Storage {
  // --- blobs -------------------------------------------------------------------------------
  statBlob(digest: string): Promise<BlobStat | null>;
  /** Stream a blob, optionally an inclusive byte range. */
  readBlob(digest: string, range?: { start: number; end: number }): Readable;
  /** Read a whole (small) blob into memory: manifests. */
  readBlobBuffer(digest: string): Promise<Buffer | null>;
  /** Store a small blob whose digest the caller has verified. Durable once it resolves. */
  putBlob(digest: string, data: Buffer): Promise<void>;
  /** Mark a blob as recently used (garbage collection grace period). */
  touchBlob(digest: string): Promise<void>;
  deleteBlob(digest: string): Promise<boolean>;
  listBlobs(): AsyncIterable<{ digest: string; algorithm: Algorithm } & BlobStat>;

  // --- upload sessions ---------------------------------------------------------------------
  createUpload(repository: string): Promise<UploadInfo>;
  /** The session and its current length, or null when it does not exist. */
  getUpload(id: string): Promise<(UploadInfo & { size: number; mtimeMs: number }) | null>;
  /** Append a stream at `offset` (which must equal the current length); returns the new length. */
  appendUpload(id: string, offset: number, data: Readable): Promise<number>;
  /** Cut the session back to `size` bytes (an interrupted chunk is dropped whole). */
  truncateUpload(id: string, size: number): Promise<void>;
  readUpload(id: string): Readable;
  /**
   * Make the session's bytes durable and publish them as the blob `digest` (atomically: either
   * the whole verified blob becomes visible or nothing does). The caller verified the digest.
   * The session is gone afterwards.
   */
  commitUpload(id: string, digest: string): Promise<void>;
  deleteUpload(id: string): Promise<boolean>;
  listUploads(): Promise<string[]>;

  // --- metadata ----------------------------------------------------------------------------
  readMeta(key: string): Promise<Buffer | null>;
  statMeta(key: string): Promise<{ mtimeMs: number } | null>;
  /** Atomic replace: readers see the old or the new document, never a mix. */
  writeMeta(key: string, data: Buffer | string): Promise<void>;
  deleteMeta(key: string): Promise<boolean>;
  /**
   * Create empty documents (markers) where missing, many at once, cheaper than `writeMeta` each:
   * they are durable together once it resolves (a crash before may leave any of them). Drivers
   * without it get `writeMeta(key, '')` per key.
   */
  createEmptyMeta?(keys: string[]): Promise<void>;
  /** Immediate children of a key prefix ("directory"), unsorted; [] when absent. */
  listMeta(prefix: string): Promise<string[]>;
  /**
   * Immediate children of a key prefix in byte order, strictly after `after`, at most `limit`,
   * and whether more follow. Costs in proportion to the page, not to the number of children.
   */
  listMetaPage(prefix: string, after: string | undefined, limit: number): Promise<{ names: string[]; more: boolean }>;
  /** Remove a metadata prefix and everything under it. */
  deleteMetaTree(prefix: string): Promise<void>;

  /** Is the storage usable (and writable unless read-only)? */
  check(writable: boolean): Promise<{ ok: boolean; detail: string }>;
}
