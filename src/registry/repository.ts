/**
 * Repository metadata on top of `Storage` (the layout is registry:2's, simplified):
 *
 *   repositories/<name>/_manifests/tags/<tag>                    → manifest digest
 *   repositories/<name>/_manifests/revisions/<alg>/<hex>         → {mediaType,size,subject?}
 *   repositories/<name>/_blobs/<alg>/<hex>                       → link: blob is in this repository
 *   repositories/<name>/_referrers/<alg>/<hex>/<alg>-<hex>       → referrer descriptor (subject → referrer)
 *
 * Blob links make a repository's blobs its own: a blob pushed to one repository is not
 * readable through another until it is mounted there (distribution-spec "Mounting a blob").
 */
import { parseDigest } from '../oci/digest.js';
import { RepositoryIndex } from './repository-index.js';
import { RepositorySearch } from './repository-search.js';
import { RepositorySizes } from './usage/repository-sizes.js';
import type { Storage } from './storage/types.js';

export interface Revision {
  mediaType: string;
  size: number;
  subject?: string;
  /** Epoch ms of the push (absent in revisions written before it was recorded: the document's mtime then). */
  pushedAt?: number;
}
export interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** Directory listings in flight while walking the tree (a filesystem reads 4 at once; S3 more). */
const WALK_PARALLEL = 16;

function digestKey(digest: string): string {
  const d = parseDigest(digest);
  if (!d) throw new Error(`not a digest: ${digest}`); // callers pass checked digests only
  return `${d.algorithm}/${d.hex}`;
}

/** A tag as stored: its manifest, that manifest's revision, and when the tag was last pushed. */
export interface TagDocument {
  digest: string;
  revision?: Revision;
  /** Epoch ms of the push that set the tag (absent in tags written before it was recorded). */
  pushedAt?: number;
}

export class RepositoryStore {
  readonly index: RepositoryIndex;
  /** Names containing a text anywhere, a page at a time (the index answers prefixes only). */
  readonly search: RepositorySearch;
  /** Tag count and bytes stored per repository, kept as tags and revisions change. */
  readonly sizes: RepositorySizes;

  constructor(
    readonly storage: Storage,
    /** The clock for recorded times (tests inject their own). */
    readonly now: () => number = Date.now,
  ) {
    this.index = new RepositoryIndex(storage, () => this.listRepositories());
    this.search = new RepositorySearch(this.index);
    this.sizes = new RepositorySizes(storage, this);
  }

  private base(repo: string): string {
    return `repositories/${repo}`;
  }

  async exists(repo: string): Promise<boolean> {
    return (await this.storage.statMeta(this.base(repo))) !== null;
  }

  // --- tags ----------------------------------------------------------------------------------
  async getTag(repo: string, tag: string): Promise<string | null> {
    return (await this.resolveTag(repo, tag))?.digest ?? null;
  }
  /**
   * A tag document carries its manifest's revision too, so HEAD/GET by tag is one small read.
   * Safe: deleting a revision deletes every tag pointing at it first-class (same request), and
   * gc only sweeps untagged revisions.
   */
  async resolveTag(repo: string, tag: string): Promise<TagDocument | null> {
    const v = await this.storage.readMeta(`${this.base(repo)}/_manifests/tags/${tag}`);
    if (!v) return null;
    const text = v.toString('utf8').trim();
    try {
      const doc = text.startsWith('{') ? (JSON.parse(text) as TagDocument) : { digest: text };
      return parseDigest(doc.digest) ? doc : null;
    } catch {
      return null;
    }
  }
  async putTag(repo: string, tag: string, digest: string, revision?: Revision): Promise<void> {
    await this.index.note(repo);
    const key = `${this.base(repo)}/_manifests/tags/${tag}`;
    const existed = (await this.storage.statMeta(key)) !== null;
    await this.storage.writeMeta(
      key,
      JSON.stringify({ digest, ...(revision ? { revision } : {}), pushedAt: this.now() }),
    );
    if (!existed) await this.sizes.tagAdded(repo);
  }
  /** When the tag was last written (a mirror's last check of it against the remote). */
  async tagMtime(repo: string, tag: string): Promise<number | null> {
    return (await this.storage.statMeta(`${this.base(repo)}/_manifests/tags/${tag}`))?.mtimeMs ?? null;
  }
  async deleteTag(repo: string, tag: string): Promise<boolean> {
    const deleted = await this.storage.deleteMeta(`${this.base(repo)}/_manifests/tags/${tag}`);
    if (deleted) await this.sizes.tagRemoved(repo);
    return deleted;
  }
  async listTags(repo: string): Promise<string[]> {
    return this.storage.listMeta(`${this.base(repo)}/_manifests/tags`);
  }
  /** Tags in byte order after `after`, at most `limit`: costs in proportion to the page. */
  async listTagsPage(
    repo: string,
    after: string | undefined,
    limit: number,
  ): Promise<{ names: string[]; more: boolean }> {
    return this.storage.listMetaPage(`${this.base(repo)}/_manifests/tags`, after, limit);
  }

  // --- manifest revisions --------------------------------------------------------------------
  async getRevision(repo: string, digest: string): Promise<Revision | null> {
    const v = await this.storage.readMeta(`${this.base(repo)}/_manifests/revisions/${digestKey(digest)}`);
    if (!v) return null;
    try {
      return JSON.parse(v.toString('utf8')) as Revision;
    } catch {
      return null;
    }
  }
  async revisionMtime(repo: string, digest: string): Promise<number | null> {
    return (
      (await this.storage.statMeta(`${this.base(repo)}/_manifests/revisions/${digestKey(digest)}`))?.mtimeMs ?? null
    );
  }
  async putRevision(repo: string, digest: string, rev: Revision): Promise<void> {
    await this.index.note(repo);
    await this.storage.writeMeta(`${this.base(repo)}/_manifests/revisions/${digestKey(digest)}`, JSON.stringify(rev));
    await this.sizes.manifestAdded(repo, digest, rev.mediaType);
  }
  async deleteRevision(repo: string, digest: string): Promise<boolean> {
    const rev = await this.getRevision(repo, digest);
    const deleted = await this.storage.deleteMeta(`${this.base(repo)}/_manifests/revisions/${digestKey(digest)}`);
    if (deleted) await this.sizes.manifestRemoved(repo, digest, rev?.mediaType ?? '');
    return deleted;
  }
  async listRevisions(repo: string): Promise<string[]> {
    return this.listDigests(`${this.base(repo)}/_manifests/revisions`);
  }

  // --- blob links ----------------------------------------------------------------------------
  async hasBlob(repo: string, digest: string): Promise<boolean> {
    return (await this.storage.statMeta(`${this.base(repo)}/_blobs/${digestKey(digest)}`)) !== null;
  }
  async blobLinkMtime(repo: string, digest: string): Promise<number | null> {
    return (await this.storage.statMeta(`${this.base(repo)}/_blobs/${digestKey(digest)}`))?.mtimeMs ?? null;
  }
  async linkBlob(repo: string, digest: string): Promise<void> {
    await this.index.note(repo);
    await this.storage.writeMeta(`${this.base(repo)}/_blobs/${digestKey(digest)}`, digest);
  }
  async unlinkBlob(repo: string, digest: string): Promise<boolean> {
    return this.storage.deleteMeta(`${this.base(repo)}/_blobs/${digestKey(digest)}`);
  }
  async listBlobLinks(repo: string): Promise<string[]> {
    return this.listDigests(`${this.base(repo)}/_blobs`);
  }

  // --- referrers -----------------------------------------------------------------------------
  private referrerKey(repo: string, subject: string, referrer: string): string {
    return `${this.base(repo)}/_referrers/${digestKey(subject)}/${digestKey(referrer).replace('/', '-')}`;
  }
  async putReferrer(repo: string, subject: string, desc: ReferrerDescriptor): Promise<void> {
    await this.storage.writeMeta(this.referrerKey(repo, subject, desc.digest), JSON.stringify(desc));
  }
  async deleteReferrer(repo: string, subject: string, referrer: string): Promise<void> {
    await this.storage.deleteMeta(this.referrerKey(repo, subject, referrer));
  }
  async listReferrers(repo: string, subject: string): Promise<ReferrerDescriptor[]> {
    const prefix = `${this.base(repo)}/_referrers/${digestKey(subject)}`;
    const out: ReferrerDescriptor[] = [];
    for (const name of await this.storage.listMeta(prefix)) {
      if (!/^(sha256|sha512)-[a-f0-9]+$/.test(name)) continue;
      const v = await this.storage.readMeta(`${prefix}/${name}`);
      if (!v) continue;
      try {
        out.push(JSON.parse(v.toString('utf8')) as ReferrerDescriptor);
      } catch {
        /* torn or foreign file: skip */
      }
    }
    return out.sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  }

  // --- repositories --------------------------------------------------------------------------
  /**
   * Every repository (a directory holding `_manifests` or `_blobs`), unsorted. One listing per
   * directory, so a store of 100,000 repositories is 100,000 listings: a level of the tree is
   * read several directories at a time rather than one after the other.
   */
  async listRepositories(): Promise<string[]> {
    const out: string[] = [];
    let level = [{ prefix: 'repositories', name: '' }];
    while (level.length > 0) {
      const next: typeof level = [];
      for (let i = 0; i < level.length; i += WALK_PARALLEL) {
        await Promise.all(
          level.slice(i, i + WALK_PARALLEL).map(async ({ prefix, name }) => {
            const children = await this.storage.listMeta(prefix);
            if (name && (children.includes('_manifests') || children.includes('_blobs'))) out.push(name);
            for (const c of children)
              if (!c.startsWith('_') && !c.startsWith('.'))
                next.push({ prefix: `${prefix}/${c}`, name: name ? `${name}/${c}` : c });
          }),
        );
      }
      level = next;
    }
    return out;
  }

  private async listDigests(prefix: string): Promise<string[]> {
    const out: string[] = [];
    for (const alg of await this.storage.listMeta(prefix)) {
      for (const hex of await this.storage.listMeta(`${prefix}/${alg}`)) {
        const d = `${alg}:${hex}`;
        if (parseDigest(d)) out.push(d);
      }
    }
    return out;
  }
}
