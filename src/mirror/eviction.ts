/**
 * The mirror cache's size and its least-recently-pulled eviction.
 *
 * The cache is what mirrored repositories hold alone: blobs (layers, configs, manifests) linked
 * only from repositories under a mirror prefix. A blob that a pushed image links too belongs to
 * that image and neither counts nor is ever deleted here. Over the budget, whole manifests go,
 * least recently pulled first (the pull records the mirror writes; a manifest never pulled
 * counts from when it was fetched): its tags and revision are removed, its blobs are unlinked
 * from the repository when no remaining manifest there uses them, and deleted when no
 * repository at all links them any more. Pushed repositories are only ever read.
 */
import type { Logger } from 'pino';
import { parseManifest } from '../registry/manifest-parse.js';
import type { RepositoryStore } from '../registry/repository.js';
import type { Storage } from '../registry/storage/types.js';
import { pullRecordKey } from './pull-record.js';

export interface EvictionResult {
  /** Cache bytes per mirror prefix before eviction. */
  before: Map<string, number>;
  /** Cache bytes per mirror prefix afterwards (equal to `before` when nothing was evicted). */
  after: Map<string, number>;
  manifestsEvicted: number;
  blobsDeleted: number;
  bytesFreed: number;
}

interface Entry {
  repo: string;
  prefix: string;
  digest: string;
  lastPulled: number;
  /** The manifest itself and every blob it references (config, layers). */
  blobs: string[];
  /** A blob linked without any cached manifest using it (fetched by digest alone). */
  orphan?: boolean;
}

export async function measureAndEvict(
  storage: Storage,
  repos: RepositoryStore,
  opts: { prefixes: string[]; maxBytes?: number; dryRun?: boolean; logger?: Logger },
): Promise<EvictionResult> {
  const prefixOf = (repo: string) => opts.prefixes.find((p) => repo.startsWith(`${p}/`));
  const links = new Map<string, Set<string>>(); // blob → repositories linking it
  const mirrorRepos: string[] = [];
  for (const repo of await repos.listRepositories()) {
    if (prefixOf(repo)) mirrorRepos.push(repo);
    for (const d of await repos.listBlobLinks(repo)) {
      const s = links.get(d) ?? new Set<string>();
      links.set(d, s);
      s.add(repo);
    }
  }
  const exclusive = (d: string) => [...(links.get(d) ?? [])].every((r) => prefixOf(r) !== undefined);
  const sizes = new Map<string, number>();
  const sizeOf = async (d: string) => {
    const known = sizes.get(d);
    if (known !== undefined) return known;
    const s = (await storage.statBlob(d))?.size ?? 0;
    sizes.set(d, s);
    return s;
  };

  const entries: Entry[] = [];
  const perRepo = new Map<string, Entry[]>();
  for (const repo of mirrorRepos) {
    const list: Entry[] = [];
    for (const digest of await repos.listRevisions(repo)) {
      const rev = await repos.getRevision(repo, digest);
      const body = await storage.readBlobBuffer(digest);
      const blobs = [digest];
      if (rev && body) {
        try {
          blobs.push(...parseManifest(body, rev.mediaType).blobs.map((b) => b.digest));
        } catch {
          /* unparsable: only the manifest itself */
        }
      }
      const pulled = (await storage.statMeta(pullRecordKey(repo, digest)))?.mtimeMs;
      const fetched = (await repos.revisionMtime(repo, digest)) ?? 0;
      list.push({ repo, prefix: prefixOf(repo)!, digest, lastPulled: pulled ?? fetched, blobs });
    }
    const used = new Set(list.flatMap((x) => x.blobs));
    for (const d of await repos.listBlobLinks(repo)) {
      if (used.has(d)) continue;
      const linked = (await repos.blobLinkMtime(repo, d)) ?? 0;
      list.push({ repo, prefix: prefixOf(repo)!, digest: d, lastPulled: linked, blobs: [d], orphan: true });
    }
    perRepo.set(repo, list);
    entries.push(...list);
  }

  const before = new Map<string, number>(opts.prefixes.map((p) => [p, 0]));
  const counted = new Set<string>();
  for (const repo of mirrorRepos) {
    for (const d of await repos.listBlobLinks(repo)) {
      if (counted.has(d) || !exclusive(d)) continue;
      counted.add(d);
      const p = prefixOf(repo)!;
      before.set(p, (before.get(p) ?? 0) + (await sizeOf(d)));
    }
  }
  const after = new Map(before);
  const result: EvictionResult = { before, after, manifestsEvicted: 0, blobsDeleted: 0, bytesFreed: 0 };
  if (opts.maxBytes === undefined) return result;
  let total = [...before.values()].reduce((a, b) => a + b, 0);
  entries.sort((a, b) => a.lastPulled - b.lastPulled);
  for (const e of entries) {
    if (total <= opts.maxBytes) break;
    const remaining = perRepo.get(e.repo)!.filter((x) => x !== e);
    perRepo.set(e.repo, remaining);
    const stillUsed = new Set(remaining.flatMap((x) => x.blobs));
    if (!e.orphan) result.manifestsEvicted++;
    opts.logger?.info(
      { repository: e.repo, digest: e.digest, lastPulled: new Date(e.lastPulled).toISOString() },
      'mirror: evicting the least recently pulled manifest',
    );
    if (!opts.dryRun && !e.orphan) {
      for (const tag of await repos.listTags(e.repo))
        if ((await repos.getTag(e.repo, tag)) === e.digest) await repos.deleteTag(e.repo, tag);
      await repos.deleteRevision(e.repo, e.digest);
      await storage.deleteMeta(pullRecordKey(e.repo, e.digest));
    }
    for (const d of new Set(e.blobs)) {
      if (stillUsed.has(d)) continue;
      const holders = links.get(d);
      if (!holders?.has(e.repo)) continue;
      const wasExclusive = exclusive(d);
      holders.delete(e.repo);
      if (!opts.dryRun) await repos.unlinkBlob(e.repo, d);
      if (holders.size > 0 || !wasExclusive) continue;
      const size = await sizeOf(d);
      if (!opts.dryRun) await storage.deleteBlob(d);
      result.blobsDeleted++;
      result.bytesFreed += size;
      total -= size;
      after.set(e.prefix, (after.get(e.prefix) ?? 0) - size);
    }
  }
  return result;
}
