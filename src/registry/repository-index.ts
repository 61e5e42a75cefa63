/**
 * The catalog as one flat, sorted "directory" of index entries, so a page of `_catalog` costs
 * in proportion to the page: the filesystem keeps a sorted listing until the directory
 * changes, S3 lists keys in order from any starting key. Walking `repositories/` (nested
 * names, one listing per level) grows with the whole store instead.
 *
 *   _index/repositories/<encoded name>     one empty document per repository
 *   _index/repositories-complete           written once every existing repository has an entry
 *
 * Names are encoded one character for one, in an order-preserving way, so the byte order of
 * entries is the byte order of names and a name keeps its length (filesystems allow 255 bytes
 * per entry; a name is under 256 characters). Repository names hold only [a-z0-9._-/]:
 *   '-' '.'  stay;  '/' → '0';  '0'..'8' → '1'..'9';  '9' → '=';  '_' and 'a'..'z' stay.
 * Every mapped character keeps its rank (0x2D, 0x2E, 0x30, 0x31-0x39, 0x3D, 0x5F, 0x61-0x7A),
 * and no upper-case letter is used, so case-insensitive filesystems cannot merge two names.
 *
 * An entry is written before the repository's first document, so a crash in between leaves
 * at worst a listed repository with nothing in it, never a hidden one. Stores written before
 * the index existed are indexed once, by a walk, in the background from the first listing on;
 * until it is complete, listings are answered by an ordered walk of the tree.
 */
import { walkRepositoriesPage } from './repository-walk.js';
import type { Storage } from './storage/types.js';

const INDEX = '_index/repositories';
const COMPLETE = '_index/repositories-complete';
/** Index entries written (and made durable) together while building the index of an old store. */
const BUILD_BATCH = 1000;

const ENCODE: Record<string, string> = { '/': '0', '9': '=' };
for (let d = 0; d < 9; d++) ENCODE[String(d)] = String(d + 1);
const DECODE: Record<string, string> = Object.fromEntries(Object.entries(ENCODE).map(([k, v]) => [v, k]));

export function encodeRepositoryName(name: string): string {
  let out = '';
  for (const c of name) out += ENCODE[c] ?? c;
  return out;
}
export function decodeRepositoryName(entry: string): string {
  let out = '';
  for (const c of entry) out += DECODE[c] ?? c;
  return out;
}

export class RepositoryIndex {
  /** Repositories this process has seen indexed: one stat per repository per process. */
  private known = new Set<string>();
  private complete = false;
  private building: Promise<void> | null = null;
  private stopped = false;
  /** A read-only core lists by walking and never writes the index. */
  readOnly = false;
  onBuildError?: (e: unknown) => void;
  /** Called with each repository `note` makes sure of (the first time this process sees it). */
  onAdded?: (repo: string) => void;

  constructor(
    private readonly storage: Storage,
    /** The authoritative (slow) walk, for stores written before the index existed. */
    private readonly walk: () => Promise<string[]>,
  ) {}

  /** Make sure `repo` is listed; call before writing its first document. */
  async note(repo: string): Promise<void> {
    if (this.known.has(repo)) return;
    const key = `${INDEX}/${encodeRepositoryName(repo)}`;
    if (!(await this.storage.statMeta(key))) await this.storage.writeMeta(key, '');
    if (this.known.size >= 100_000) this.known.clear();
    this.known.add(repo);
    this.onAdded?.(repo);
  }

  /**
   * Repositories in byte order after `after`, at most `limit`. Until the index of a store
   * written before it existed is complete, the page comes from an ordered walk of the tree
   * (as cheap per page, a little slower) while the index is built in the background.
   */
  async page(after: string | undefined, limit: number): Promise<{ names: string[]; more: boolean }> {
    if (!(await this.isComplete())) {
      this.buildInBackground();
      return walkRepositoriesPage(this.storage, after, limit);
    }
    const r = await this.storage.listMetaPage(
      INDEX,
      after === undefined ? undefined : encodeRepositoryName(after),
      limit,
    );
    return { names: r.names.map(decodeRepositoryName), more: r.more };
  }

  /** Every indexed repository, in byte order, a page at a time. */
  async *all(pageSize = 1000): AsyncIterable<string> {
    let after: string | undefined;
    for (;;) {
      const { names, more } = await this.page(after, pageSize);
      yield* names;
      if (!more || names.length === 0) return;
      after = names[names.length - 1];
    }
  }

  /** Wait for a build in progress (tests, benchmarks); false on a read-only core, which never builds. */
  async built(): Promise<boolean> {
    if (await this.isComplete()) return true;
    this.buildInBackground();
    await this.building;
    return this.complete;
  }

  /** Stop a build in progress (it resumes, from the start, on the next page after a restart). */
  async close(): Promise<void> {
    this.stopped = true;
    await this.building;
  }

  /** Does the index list every repository (false while a store written before it is being indexed)? */
  async isComplete(): Promise<boolean> {
    if (this.complete) return true;
    if (await this.storage.statMeta(COMPLETE)) this.complete = true;
    return this.complete;
  }

  private buildInBackground(): void {
    if (this.building || this.readOnly || this.stopped) return;
    this.building = (async () => {
      const all = await this.walk();
      // Entries in batches, made durable a batch at a time: the marker written at the end is what
      // says the index is complete, so a crash half-way only means building again.
      for (let i = 0; i < all.length && !this.stopped; i += BUILD_BATCH) {
        const batch = all.slice(i, i + BUILD_BATCH);
        if (this.storage.createEmptyMeta) {
          await this.storage.createEmptyMeta(batch.map((repo) => `${INDEX}/${encodeRepositoryName(repo)}`));
          for (const repo of batch) this.onAdded?.(repo);
        } else {
          for (let j = 0; j < batch.length; j += 64) await Promise.all(batch.slice(j, j + 64).map((r) => this.note(r)));
        }
      }
      if (this.stopped) return;
      await this.storage.writeMeta(COMPLETE, new Date().toISOString());
      this.complete = true;
    })()
      .catch((e: unknown) => this.onBuildError?.(e)) // the next page tries again
      .finally(() => {
        this.building = null;
      });
  }
}
