/**
 * A page of repository names straight from the `repositories/` tree, in byte order, costing in
 * proportion to the page rather than the store: what the catalog answers from while the index
 * (repository-index.ts) of a store written before it existed is still being built.
 *
 * Names nest ("team/app" lives in repositories/team/app), and byte order does not follow the
 * tree: "a-b" sorts between "a" and "a/x" because '-' < '/'. So the walk is best-first: a heap
 * ordered by the smallest name each item can still yield. A directory yields its own name
 * (when it is a repository) and then names longer than it, so its own name is a lower bound
 * for everything under it; a directory listing is read a page at a time in byte order. Only
 * directories whose names can follow `after` are opened.
 */
import type { Storage } from './storage/types.js';

type Item =
  | { kind: 'name'; key: string }
  | { kind: 'dir'; key: string; path: string }
  | { kind: 'listing'; key: string; path: string; prefix: string; buf: string[]; more: boolean };

const LISTING_PAGE = 128;

/** Smallest string above every name under `name` (its own and "name/..."): '0' follows '/'. */
const above = (name: string) => `${name}0`;

/**
 * The child names of a directory (names of the form `prefix + child`) that can hold a name
 * after `after` are all at or beyond the returned point (listings start strictly after it).
 * A child c before head(after) can only matter if c is a prefix of it followed by '-' or '.',
 * which sort before '/'; so everything before head cut at its first '-' or '.' is skipped.
 */
function listingStart(prefix: string, after: string | undefined): string | undefined {
  if (after === undefined || !after.startsWith(prefix)) return undefined;
  const head = after.slice(prefix.length).split('/')[0]!;
  const cut = head.search(/[-.]/);
  const from = cut === -1 ? head : head.slice(0, cut);
  if (from === '') return undefined;
  // Strictly before `from`, after every shorter name: no name uses a character above '~'.
  return `${from.slice(0, -1)}${String.fromCharCode(from.charCodeAt(from.length - 1) - 1)}~`;
}

class Heap {
  private a: Item[] = [];
  get size() {
    return this.a.length;
  }
  push(x: Item): void {
    const a = this.a;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]!.key <= x.key) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = x;
  }
  pop(): Item | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length && last) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const r = l + 1;
        const c = r < a.length && a[r]!.key < a[l]!.key ? r : l;
        if (a[c]!.key >= last.key) break;
        a[i] = a[c]!;
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}

export async function walkRepositoriesPage(
  storage: Storage,
  after: string | undefined,
  limit: number,
): Promise<{ names: string[]; more: boolean }> {
  const heap = new Heap();
  const names: string[] = [];

  const openListing = async (path: string, prefix: string, from: string | undefined) => {
    const page = await storage.listMetaPage(path, from, LISTING_PAGE);
    const buf = page.names.filter((c) => !c.startsWith('_') && !c.startsWith('.'));
    if (buf.length) heap.push({ kind: 'listing', key: prefix + buf[0], path, prefix, buf, more: page.more });
    else if (page.more && page.names.length) await openListing(path, prefix, page.names[page.names.length - 1]); // a page of '_' entries only
  };

  await openListing('repositories', '', listingStart('', after));
  while (heap.size && names.length <= limit) {
    const item = heap.pop()!;
    if (item.kind === 'name') {
      if (after === undefined || item.key > after) names.push(item.key);
    } else if (item.kind === 'dir') {
      if (after !== undefined && above(item.key) <= after) continue; // everything under it comes first
      const repo =
        (await storage.statMeta(`${item.path}/_manifests`)) !== null ||
        (await storage.statMeta(`${item.path}/_blobs`)) !== null;
      if (repo) heap.push({ kind: 'name', key: item.key });
      await openListing(item.path, `${item.key}/`, listingStart(`${item.key}/`, after));
    } else {
      const child = item.buf.shift()!;
      heap.push({ kind: 'dir', key: item.prefix + child, path: `${item.path}/${child}` });
      if (item.buf.length) heap.push({ ...item, key: item.prefix + item.buf[0] });
      else if (item.more) await openListing(item.path, item.prefix, child);
    }
  }
  return { names: names.slice(0, limit), more: names.length > limit };
}
