/**
 * Repository names that contain a text anywhere ("api" finds "team/billing-api"), a page at a
 * time in catalog order, whatever the size of the store.
 *
 * The sorted catalog index can only answer prefixes cheaply. For substrings this keeps every
 * name in memory as one string, "\n"-separated in byte order, and lets `String.indexOf` jump
 * from one match to the next: a scan of 100,000 names (about 3 MB) takes well under a
 * millisecond, a page stops after `limit` matches, and memory is one byte per character plus
 * four bytes per name (offsets of the names, for starting after `last` by binary search).
 * Nothing is held until the first search, nor 10 minutes after the last, so an idle core does
 * not pay for it.
 *
 * It answers both the usage extension's `q=` and `docker search` (gateway/search.ts). The names
 * come from the catalog index (repository-index.ts), or with --upstream from registry:2's
 * catalog, read up to a bound (backends/upstream-names.ts). Repositories this process
 * creates are added at the next search; those created by another process sharing the storage
 * (cluster workers, a second gateway) show once the names are read again, which a search
 * starts in the background when they are older than `refreshMs`.
 *
 * While the index of a store written before it existed is still being built, reading every
 * name would mean walking the whole tree, so a search page then scans a bounded slice of the
 * ordered walk instead, and says where to go on (`scannedTo`).
 */
/**
 * Where the names come from: the catalog index of the embedded core (repository-index.ts), or
 * anything that can list names in byte order (the gateway's view of a registry:2 catalog).
 */
export interface RepositoryNames {
  /** Whether `all()` can be read whole now (false while an old store's index is being built). */
  isComplete(): Promise<boolean>;
  /** Every name, in byte order. */
  all(): AsyncIterable<string>;
  /** Names after `after` in byte order, at most `limit` (the bounded scan while not complete). */
  page(after: string | undefined, limit: number): Promise<{ names: string[]; more: boolean }>;
  /** Set by the search: called with each repository created from here on. */
  onAdded?: (name: string) => void;
}

/** Names scanned per request while the index is being built (one walk page of the catalog). */
const SCAN_WHILE_BUILDING = 1000;
/** Above this many new names since the last read, read them all again rather than insert each. */
const MAX_INSERTS = 256;

export interface SearchPage {
  names: string[];
  /** Whether more names may match after the last one returned (or after `scannedTo`). */
  more: boolean;
  /** Where the next page starts when it is not the last name returned (a bounded scan ended there). */
  scannedTo?: string;
}

class NameText {
  /** "\n" + names joined by "\n" + "\n": every name is preceded and followed by a newline. */
  readonly text: string;
  /** Offset in `text` of the first character of each name. */
  readonly starts: Int32Array;

  constructor(sorted: string[]) {
    this.text = `\n${sorted.join('\n')}\n`;
    this.starts = new Int32Array(sorted.length);
    let at = 1;
    for (const [i, name] of sorted.entries()) {
      this.starts[i] = at;
      at += name.length + 1;
    }
  }

  get size(): number {
    return this.starts.length;
  }
  name(i: number): string {
    const from = this.starts[i]!;
    return this.text.slice(from, this.text.indexOf('\n', from));
  }
  /** Index of the first name strictly after `after` (byte order). */
  firstAfter(after: string | undefined): number {
    if (after === undefined) return 0;
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.name(mid) <= after) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  /** The same names with `added` merged in (sorted, duplicates dropped). */
  with(added: Iterable<string>): NameText {
    const fresh = [...added].filter((n) => {
      const i = this.firstAfter(n);
      return i === 0 || this.name(i - 1) !== n;
    });
    if (fresh.length === 0) return this;
    const all = this.text.slice(1, -1);
    const names = all === '' ? [] : all.split('\n');
    names.push(...fresh);
    return new NameText([...new Set(names)].sort(byteOrder));
  }
}

const byteOrder = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export class RepositorySearch {
  private names: NameText | null = null;
  private readAt = 0;
  private reading: Promise<NameText> | null = null;
  /** Names noted since the last read (created by this process). */
  private added = new Set<string>();
  private idle: NodeJS.Timeout | undefined;

  constructor(
    private readonly index: RepositoryNames,
    private readonly refreshMs = 15_000,
    private readonly idleMs = 10 * 60_000,
    private readonly now: () => number = Date.now,
  ) {
    index.onAdded = (name) => {
      if (this.names || this.reading) this.added.add(name);
    };
  }

  /**
   * Names containing `text` (lower case: names are), strictly after `after`, at most `limit`.
   * `text` may hold any characters; one that no name can contain simply matches nothing.
   */
  async page(text: string, after: string | undefined, limit: number): Promise<SearchPage> {
    if (!(await this.index.isComplete())) return this.scanWalk(text, after, limit);
    const names = await this.current();
    this.keepWhileUsed();
    return findIn(names, text, after, limit);
  }

  /** Whether the names are held in memory now (they are let go when nobody searches). */
  get holdsNames(): boolean {
    return this.names !== null;
  }

  /** Let the names go after `idleMs` without a search: a store searched once does not hold them for good. */
  private keepWhileUsed(): void {
    clearTimeout(this.idle);
    this.idle = setTimeout(() => {
      if (this.reading) return this.keepWhileUsed();
      this.names = null;
      this.added.clear();
    }, this.idleMs);
    this.idle.unref();
  }

  private async current(): Promise<NameText> {
    if (!this.names) {
      this.names = await this.read();
      return this.names;
    }
    if (this.added.size > MAX_INSERTS) {
      this.names = await this.read();
    } else if (this.added.size > 0) {
      this.names = this.names.with(this.added);
      // A read in flight may have listed past these names already: merge them into it too.
      if (!this.reading) this.added.clear();
    }
    // Stale-while-revalidate: another process may have created repositories since.
    if (this.now() - this.readAt > this.refreshMs && !this.reading)
      this.read().then(
        (n) => {
          this.names = n;
        },
        () => {}, // keep the names we have; the next search tries again
      );
    return this.names;
  }

  /** Every indexed name, once at a time (concurrent searches share one read). */
  private read(): Promise<NameText> {
    if (this.reading) return this.reading;
    const started = this.now();
    this.added.clear(); // names noted from here on are merged after this read
    this.reading = (async () => {
      const all: string[] = [];
      for await (const name of this.index.all()) all.push(name);
      this.readAt = started;
      return new NameText(all);
    })().finally(() => {
      this.reading = null;
    });
    return this.reading;
  }

  private async scanWalk(text: string, after: string | undefined, limit: number): Promise<SearchPage> {
    const { names, more } = await this.index.page(after, Math.max(limit, SCAN_WHILE_BUILDING));
    const found: string[] = [];
    for (const [i, name] of names.entries()) {
      if (!name.includes(text)) continue;
      if (found.length === limit) return { names: found, more: true, scannedTo: names[i - 1] };
      found.push(name);
    }
    const last = names[names.length - 1];
    return more && last !== undefined ? { names: found, more: true, scannedTo: last } : { names: found, more: false };
  }
}

function findIn(names: NameText, text: string, after: string | undefined, limit: number): SearchPage {
  const found: string[] = [];
  if (text.includes('\n')) return { names: found, more: false };
  const { text: all } = names;
  const first = names.firstAfter(after);
  let at = first < names.size ? names.starts[first]! : all.length;
  for (;;) {
    const hit = all.indexOf(text, at);
    // An empty text "matches" at the end of the string too, after the last name.
    if (hit < 0 || hit >= all.length - 1) return { names: found, more: false };
    // `text` holds no newline, so the match lies inside one name: the one around it.
    const start = all.lastIndexOf('\n', hit) + 1;
    const end = all.indexOf('\n', hit + text.length);
    if (found.length === limit) return { names: found, more: true };
    found.push(all.slice(start, end));
    at = end + 1;
  }
}
