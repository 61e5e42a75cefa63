/**
 * How many tags a repository has and how many bytes it stores, kept up to date as content
 * changes rather than computed by walking the repository when someone asks:
 *
 *   repositories/<name>/_sizes   {"v":1,"tags":N,"bytes":B,"manifests":{digest:size},"blobs":{digest:[size,refs]}}
 *
 * `bytes` is what the repository's manifests hold: each manifest once, plus every config and
 * layer its manifests reference, a layer shared by several manifests of the repository counted
 * once (the reference count in `blobs` says when the last manifest using it is gone). A layer
 * shared with another repository counts in both: the store total (StoreTotal) counts it once.
 *
 * The document is derived: every change to tags and manifest revisions goes through
 * RepositoryStore, which applies it here under a per-repository lock. A document that is
 * missing, unreadable or of another version is rebuilt from the repository (tags listed,
 * revisions read), and garbage collection rebuilds every repository it visits, so a figure
 * that drifted (two instances writing the same repository at the same instant) is corrected
 * by the next gc.
 */
import { KeyedLock } from '../context.js';
import { parseManifest } from '../manifest-parse.js';
import type { Storage } from '../storage/types.js';

const VERSION = 1;

interface SizesDocument {
  v: number;
  tags: number;
  bytes: number;
  manifests: Record<string, number>;
  blobs: Record<string, [size: number, refs: number]>;
}

/** A repository's figures, as the usage endpoint and the metrics show them. */
export interface RepositorySize {
  tags: number;
  /** Manifests + configs + layers referenced by its manifests, shared layers counted once. */
  bytes: number;
  manifests: number;
  /** Distinct configs and layers its manifests reference. */
  blobs: number;
}

/** What the sizes need from the repository (RepositoryStore), to rebuild a document. */
export interface SizeSource {
  listTags(repo: string): Promise<string[]>;
  listRevisions(repo: string): Promise<string[]>;
  getRevision(repo: string, digest: string): Promise<{ mediaType: string; size: number } | null>;
}

/** One lock per repository per process: the server, retention and gc share it. */
const locks = new KeyedLock();

function sizesKey(repo: string): string {
  return `repositories/${repo}/_sizes`;
}

function summary(doc: SizesDocument): RepositorySize {
  return {
    tags: doc.tags,
    bytes: doc.bytes,
    manifests: Object.keys(doc.manifests).length,
    blobs: Object.keys(doc.blobs).length,
  };
}

function parseDocument(buf: Buffer | null): SizesDocument | null {
  if (!buf) return null;
  try {
    const d = JSON.parse(buf.toString('utf8')) as SizesDocument;
    if (d.v !== VERSION || typeof d.tags !== 'number' || typeof d.bytes !== 'number') return null;
    if (typeof d.manifests !== 'object' || typeof d.blobs !== 'object' || !d.manifests || !d.blobs) return null;
    return d;
  } catch {
    return null; // torn or foreign: rebuilt
  }
}

/** Add a manifest and what it references; a config or layer already counted gets one more reference. */
function count(doc: SizesDocument, digest: string, parts: ManifestParts): void {
  doc.manifests[digest] = parts.size;
  doc.bytes += parts.size;
  for (const b of parts.blobs) {
    const entry = doc.blobs[b.digest];
    if (entry) entry[1]++;
    else {
      doc.blobs[b.digest] = [b.size, 1];
      doc.bytes += b.size;
    }
  }
}

interface ManifestParts {
  size: number;
  blobs: { digest: string; size: number }[];
}

export class RepositorySizes {
  /** Read-only cores compute missing documents but never write them. */
  readOnly = false;
  /** The latest figures this process has seen per repository (for /metrics), bounded. */
  readonly seen = new Map<string, RepositorySize>();

  constructor(
    private readonly storage: Storage,
    private readonly source: SizeSource,
  ) {}

  /** The repository's figures: its document, or a rebuild of it when missing or stale. */
  async read(repo: string): Promise<RepositorySize> {
    const doc = parseDocument(await this.storage.readMeta(sizesKey(repo)));
    if (doc) return this.remember(repo, summary(doc));
    return locks.run(sizesKey(repo), async () => summary(await this.load(repo)));
  }

  /** Recompute from the repository and write it (gc, and any document found stale). */
  async rebuild(repo: string): Promise<RepositorySize> {
    return locks.run(sizesKey(repo), async () => {
      const doc = await this.compute(repo);
      await this.save(repo, doc);
      return summary(doc);
    });
  }

  tagAdded(repo: string): Promise<void> {
    return this.update(repo, (d) => {
      d.tags++;
    });
  }

  tagRemoved(repo: string): Promise<void> {
    return this.update(repo, (d) => {
      d.tags = Math.max(0, d.tags - 1);
    });
  }

  /** A manifest revision was written (its body is in the blob store already). */
  manifestAdded(repo: string, digest: string, mediaType: string): Promise<void> {
    return this.update(repo, async (d) => {
      if (d.manifests[digest] !== undefined) return;
      const parts = await this.manifestParts(digest, mediaType);
      if (!parts) return 'stale';
      count(d, digest, parts);
    });
  }

  /** A manifest revision was removed (its body stays in the blob store until gc). */
  manifestRemoved(repo: string, digest: string, mediaType: string): Promise<void> {
    return this.update(repo, async (d) => {
      const size = d.manifests[digest];
      if (size === undefined) return;
      const parts = await this.manifestParts(digest, mediaType);
      if (!parts) return 'stale';
      delete d.manifests[digest];
      d.bytes -= size;
      for (const b of parts.blobs) {
        const entry = d.blobs[b.digest];
        if (!entry) continue;
        if (--entry[1] <= 0) {
          delete d.blobs[b.digest];
          d.bytes -= entry[0];
        }
      }
    });
  }

  /**
   * Apply a change to the stored document. Called after the change is written, so a document
   * that has to be rebuilt (missing, stale, or the change cannot be applied) already includes it.
   */
  private update(repo: string, change: (d: SizesDocument) => unknown): Promise<void> {
    if (this.readOnly) return Promise.resolve();
    return locks.run(sizesKey(repo), async () => {
      const doc = parseDocument(await this.storage.readMeta(sizesKey(repo)));
      if (!doc) {
        await this.load(repo);
        return;
      }
      if ((await change(doc)) === 'stale') {
        await this.save(repo, await this.compute(repo));
        return;
      }
      await this.save(repo, doc);
    });
  }

  /** The stored document, or a fresh one written in its place (call under the lock). */
  private async load(repo: string): Promise<SizesDocument> {
    const doc = parseDocument(await this.storage.readMeta(sizesKey(repo)));
    if (doc) return doc;
    const fresh = await this.compute(repo);
    if (!this.readOnly) await this.save(repo, fresh);
    else this.remember(repo, summary(fresh));
    return fresh;
  }

  private async save(repo: string, doc: SizesDocument): Promise<void> {
    await this.storage.writeMeta(sizesKey(repo), JSON.stringify(doc));
    this.remember(repo, summary(doc));
  }

  private remember(repo: string, s: RepositorySize): RepositorySize {
    this.seen.delete(repo);
    this.seen.set(repo, s);
    // Oldest first out: a process never holds more than this many repositories' figures.
    if (this.seen.size > 100_000) this.seen.delete(this.seen.keys().next().value as string);
    return s;
  }

  /** The document from the repository itself: tags listed, every revision's manifest read. */
  private async compute(repo: string): Promise<SizesDocument> {
    const doc: SizesDocument = { v: VERSION, tags: 0, bytes: 0, manifests: {}, blobs: {} };
    doc.tags = (await this.source.listTags(repo)).length;
    for (const digest of await this.source.listRevisions(repo)) {
      const rev = await this.source.getRevision(repo, digest);
      if (!rev) continue;
      const parts = await this.manifestParts(digest, rev.mediaType);
      if (!parts) continue; // its body is gone (gc in progress): it stores nothing
      count(doc, digest, parts);
    }
    return doc;
  }

  /** A manifest's own size and the configs and layers it references (foreign layers excluded). */
  private async manifestParts(digest: string, mediaType: string): Promise<ManifestParts | null> {
    const body = await this.storage.readBlobBuffer(digest);
    if (!body) return null;
    try {
      const m = parseManifest(body, mediaType);
      return { size: body.length, blobs: m.blobs.filter((b) => !b.urls?.length) };
    } catch {
      return { size: body.length, blobs: [] };
    }
  }
}
