/**
 * Optional per-instance cache of hot metadata reads (`--storage-cache-ttl`): tag documents,
 * manifest revisions, repository blob links (readMeta/statMeta) and listings (listMeta), for
 * a short TTL. Only what exists is cached (no negative entries): something another instance
 * just created — a tag, a blob link, a manifest — is seen at once. What another instance
 * changed or deleted can be seen for up to the TTL: a moved tag may still resolve to its old
 * manifest, a deleted tag/manifest/link may still be served, tags/list and _catalog may lag.
 * This instance's own writes invalidate its entries immediately.
 */
import type { Storage } from './types.js';

interface Entry {
  at: number;
  value: unknown;
}

export function withMetadataCache<S extends Storage>(storage: S, ttlMs: number, maxEntries = 10_000): S {
  if (!(ttlMs > 0)) return storage;
  const entries = new Map<string, Entry>();
  const now = () => Date.now();
  const cached = async <T>(k: string, load: () => Promise<T>, keep: (v: T) => boolean): Promise<T> => {
    const e = entries.get(k);
    if (e && now() - e.at < ttlMs) return e.value as T;
    const value = await load();
    if (keep(value)) {
      entries.delete(k);
      entries.set(k, { at: now(), value });
      if (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
    } else {
      entries.delete(k);
    }
    return value;
  };
  // A write to `key` invalidates it, listings and "directory" stats of its ancestors, and (for
  // trees) everything below it.
  const invalidate = (key: string, tree = false) => {
    for (const k of entries.keys()) {
      const path = k.slice(k.indexOf(':') + 1);
      if (path === key || key.startsWith(`${path}/`) || (tree && path.startsWith(`${key}/`))) entries.delete(k);
    }
  };
  const c = Object.create(storage) as S;
  c.readMeta = (key) =>
    cached(
      `r:${key}`,
      () => storage.readMeta(key),
      (v) => v !== null,
    );
  c.statMeta = (key) =>
    cached(
      `s:${key}`,
      () => storage.statMeta(key),
      (v) => v !== null,
    );
  c.listMeta = (prefix) =>
    cached(
      `l:${prefix}`,
      () => storage.listMeta(prefix),
      () => true,
    );
  c.writeMeta = async (key, data) => {
    invalidate(key);
    await storage.writeMeta(key, data);
    invalidate(key);
  };
  c.deleteMeta = async (key) => {
    invalidate(key);
    try {
      return await storage.deleteMeta(key);
    } finally {
      invalidate(key);
    }
  };
  c.deleteMetaTree = async (prefix) => {
    invalidate(prefix, true);
    await storage.deleteMetaTree(prefix);
    invalidate(prefix, true);
  };
  return c;
}
