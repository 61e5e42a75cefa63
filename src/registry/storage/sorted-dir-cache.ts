/**
 * Sorted listings of directories, kept in memory until the directory changes, so a page of a
 * big directory (10,000 tags, 100,000 catalog entries) costs one stat and a binary search
 * instead of a readdir and a sort.
 *
 * A directory's mtime changes whenever an entry is added, removed or renamed over, also when
 * another process does it. Kernels stamp times from a coarse clock (a few milliseconds), so
 * two changes inside one tick can leave the mtime unchanged: a listing whose directory changed
 * less than `settleMs` ago is never trusted and is read again.
 */
import { readdir, stat } from 'node:fs/promises';

interface Entry {
  stamp: string;
  names: string[];
}

/** Byte-wise order (Go's sort.Strings, S3's key order) for the ASCII names storage holds. */
export function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Index of the first name strictly greater than `after` in a sorted array. */
export function firstAfter(sorted: string[], after: string | undefined): number {
  if (after === undefined) return 0;
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class SortedDirCache {
  private entries = new Map<string, Entry>();

  constructor(
    private readonly maxDirs = 64,
    private readonly settleMs = 2000,
  ) {}

  /** Every entry of `dir` in byte order; [] when it does not exist. */
  async list(dir: string): Promise<string[]> {
    let s: Awaited<ReturnType<typeof stat>>;
    try {
      s = await stat(dir, { bigint: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        this.entries.delete(dir);
        return [];
      }
      throw e;
    }
    const stamp = `${s.ino}:${s.mtimeNs}:${s.ctimeNs}`;
    const settled = Date.now() - Number(s.mtimeNs / 1_000_000n) > this.settleMs;
    const hit = this.entries.get(dir);
    if (hit && hit.stamp === stamp && settled) {
      this.entries.delete(dir);
      this.entries.set(dir, hit);
      return hit.names;
    }
    let names: string[];
    try {
      names = (await readdir(dir)).sort(byteOrder);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return [];
      throw e;
    }
    this.entries.delete(dir);
    this.entries.set(dir, { stamp, names });
    if (this.entries.size > this.maxDirs) this.entries.delete(this.entries.keys().next().value as string);
    return names;
  }

  /** Entries after `after` (exclusive), at most `limit`, and whether more follow. */
  async page(dir: string, after: string | undefined, limit: number): Promise<{ names: string[]; more: boolean }> {
    const all = await this.list(dir);
    const from = firstAfter(all, after);
    const names = all.slice(from, from + limit);
    return { names, more: from + names.length < all.length };
  }
}
