/** What every handler gets: storage, repository metadata, options, and the process-local caches. */
import type { Hash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Storage } from './storage/types.js';
import type { RepositoryStore } from './repository.js';
import type { UsageRecorder } from './usage/usage-recorder.js';
import type { StoreTotal } from './usage/store-total.js';

export interface CoreContext {
  storage: Storage;
  repos: RepositoryStore;
  logger: Logger;
  deleteEnabled: boolean;
  readOnly: boolean;
  uploadChunkMinLength?: number;
  hashes: UploadHashes;
  manifests: ManifestCache;
  locks: KeyedLock;
  /** Pull and push times (absent on a read-only core: nothing is written there). */
  usage?: UsageRecorder;
  /** Bytes of the whole store, every blob once. */
  storeTotal?: StoreTotal;
  /** Storage redirects: the URL a blob GET answers 307 with (unset: blobs are served here). */
  redirect?: (digest: string) => Promise<string>;
}

/**
 * sha256 state of upload sessions this process wrote last, keyed by id and length. Node
 * cannot serialise a hash state, so a session continued by another process (or after a
 * restart) is re-hashed from storage once; a session continued here is hashed incrementally.
 */
export class UploadHashes {
  private entries = new Map<string, { offset: number; hash: Hash }>();
  constructor(private readonly max = 1024) {}

  /** Take (remove) the state for `id` if it covers exactly `offset` bytes. */
  take(id: string, offset: number): Hash | null {
    const e = this.entries.get(id);
    this.entries.delete(id);
    return e && e.offset === offset ? e.hash : null;
  }
  put(id: string, offset: number, hash: Hash): void {
    this.entries.delete(id);
    this.entries.set(id, { offset, hash });
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as string);
  }
  drop(id: string): void {
    this.entries.delete(id);
  }
  clear(): void {
    this.entries.clear();
  }
}

/** LRU of manifest bodies by digest: digest-addressed bytes never change, so this is always safe. */
export class ManifestCache {
  private entries = new Map<string, Buffer>();
  private bytes = 0;
  constructor(private readonly maxBytes = 32 << 20) {}
  get(digest: string): Buffer | undefined {
    const v = this.entries.get(digest);
    if (v) {
      this.entries.delete(digest);
      this.entries.set(digest, v);
    }
    return v;
  }
  set(digest: string, body: Buffer): void {
    if (body.length > this.maxBytes / 4 || this.entries.has(digest)) return;
    this.entries.set(digest, body);
    this.bytes += body.length;
    while (this.bytes > this.maxBytes) {
      const [k, v] = this.entries.entries().next().value as [string, Buffer];
      this.entries.delete(k);
      this.bytes -= v.length;
    }
  }
  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }
}

/** Serialise async work per key inside this process (e.g. two PATCHes on one upload session). */
export class KeyedLock {
  private tails = new Map<string, Promise<unknown>>();
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => {
      release = r;
    });
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
