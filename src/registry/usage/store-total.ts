/**
 * The bytes the whole store holds: every blob once, however many repositories reference it
 * (so a base layer shared by a hundred repositories counts once), including content that no
 * tag reaches any more until gc removes it.
 *
 *   _index/store-total    {"v":1,"bytes":B,"blobs":N}
 *
 * Garbage collection writes the exact figure (it lists every blob); between two collections
 * a server adds each blob it publishes (uploads, manifests), in memory, and folds that into
 * the document every `flushIntervalMs` and on close. A store without the document is counted
 * once, in the background, by listing its blobs; until then the total is unknown (null).
 */
import type { Logger } from 'pino';
import type { Storage } from '../storage/types.js';
import { PeriodicFlush } from './periodic-flush.js';

const KEY = '_index/store-total';

export interface StoreTotalFigures {
  /** Distinct blobs (layers, configs, manifests) in the storage, each counted once. */
  bytes: number;
  blobs: number;
}

function parse(buf: Buffer | null): StoreTotalFigures | null {
  if (!buf) return null;
  try {
    const d = JSON.parse(buf.toString('utf8')) as { v?: number } & Partial<StoreTotalFigures>;
    return d.v === 1 && typeof d.bytes === 'number' && typeof d.blobs === 'number'
      ? { bytes: d.bytes, blobs: d.blobs }
      : null;
  } catch {
    return null;
  }
}

/** Write the exact figure (gc, the first count). */
export async function writeStoreTotal(storage: Storage, figures: StoreTotalFigures): Promise<void> {
  await storage.writeMeta(KEY, JSON.stringify({ v: 1, ...figures }));
}

export class StoreTotal {
  private pending: StoreTotalFigures = { bytes: 0, blobs: 0 };
  private counting: Promise<void> | null = null;
  private readonly periodic: PeriodicFlush;

  constructor(
    private readonly storage: Storage,
    private readonly opts: { readOnly: boolean; flushIntervalMs?: number; logger?: Logger },
  ) {
    this.periodic = new PeriodicFlush(
      () => this.write(),
      opts.flushIntervalMs,
      (e) => opts.logger?.warn({ err: e }, 'usage: could not record the store total'),
    );
  }

  start(): void {
    if (!this.opts.readOnly) this.periodic.start();
  }

  async stop(): Promise<void> {
    await this.periodic.stop();
    await this.counting?.catch(() => {});
  }

  /** A blob that was not in the storage before was published. */
  added(size: number): void {
    this.pending.bytes += size;
    this.pending.blobs++;
  }

  /** The stored figure plus what this process has not flushed; null while first counted. */
  async read(): Promise<StoreTotalFigures | null> {
    const stored = parse(await this.storage.readMeta(KEY));
    if (!stored) {
      this.countInBackground();
      return null;
    }
    return { bytes: stored.bytes + this.pending.bytes, blobs: stored.blobs + this.pending.blobs };
  }

  flush(): Promise<void> {
    return this.periodic.flush();
  }

  /** Fold what this process added into the stored figure. */
  private async write(): Promise<void> {
    const delta = this.pending;
    // A read-only core holds its first count in `pending` and never writes it.
    if (this.opts.readOnly || delta.blobs === 0) return;
    const stored = parse(await this.storage.readMeta(KEY));
    if (!stored) return; // the first count (or gc) will include these blobs
    this.pending = { bytes: 0, blobs: 0 };
    try {
      await writeStoreTotal(this.storage, { bytes: stored.bytes + delta.bytes, blobs: stored.blobs + delta.blobs });
    } catch (e) {
      this.pending.bytes += delta.bytes;
      this.pending.blobs += delta.blobs;
      this.opts.logger?.warn({ err: e }, 'usage: could not record the store total');
    }
  }

  private countInBackground(): void {
    if (this.counting) return;
    this.counting = (async () => {
      const figures: StoreTotalFigures = { bytes: 0, blobs: 0 };
      for await (const b of this.storage.listBlobs()) {
        figures.bytes += b.size;
        figures.blobs++;
      }
      // Blobs published while counting may or may not be in the listing: dropping the pending
      // figure can only undercount them until the next gc, never count one twice.
      this.pending = { bytes: 0, blobs: 0 };
      if (!this.opts.readOnly) await writeStoreTotal(this.storage, figures);
      else this.pending = figures;
    })()
      .catch((e: unknown) => this.opts.logger?.warn({ err: e }, 'usage: could not count the store total'))
      .finally(() => {
        this.counting = null;
      });
  }
}

/**
 * The storage, telling `total` about every blob it publishes that was not there before.
 * Deletions are left to gc, which writes the exact figure.
 */
export function countingPublishedBlobs(storage: Storage, total: StoreTotal): Storage {
  const wrapped: Storage = Object.create(storage) as Storage;
  wrapped.putBlob = async (digest, data) => {
    const before = await storage.statBlob(digest);
    await storage.putBlob(digest, data);
    if (!before) total.added(data.length);
  };
  wrapped.commitUpload = async (id, digest) => {
    const before = await storage.statBlob(digest);
    await storage.commitUpload(id, digest);
    if (!before) {
      const after = await storage.statBlob(digest);
      if (after) total.added(after.size);
    }
  };
  return wrapped;
}
