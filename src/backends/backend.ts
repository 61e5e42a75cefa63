/** A backend has one job: answer a registry request the gateway has already admitted. */
import type { RequestContext } from '../gateway/context.js';
import type { MirrorCounters } from '../mirror/counters.js';
import type { SearchPage } from '../registry/repository-search.js';

export interface BackendHealth {
  name: string;
  kind: 'upstream' | 'storage';
  healthy: boolean;
  detail?: string;
  failures: number;
}

export interface Backend {
  readonly kind: 'upstream' | 'embedded';
  handle(ctx: RequestContext): Promise<void>;
  health(): Promise<BackendHealth[]>;
  /** Origins (scheme://host:port) whose URLs in Location/Link headers are rewritten to the public origin. */
  readonly internalOrigins: ReadonlySet<string>;
  /**
   * `docker search`: names containing `text` (lower case) after `after`, at most `limit`, from the
   * repository search that also answers the usage extension's `q=` (registry/repository-search.ts).
   */
  searchRepositories(text: string, after: string | undefined, limit: number): Promise<SearchPage>;
  /** The first `limit` tags of a repository in order, and whether more follow (a search result's description). */
  tagsPage(repository: string, limit: number): Promise<{ names: string[]; more: boolean }>;
  /** A push through the gateway wrote `repository`, for a backend that cannot tell by itself (registry:2). */
  noteRepository?(repository: string): void;
  close(): Promise<void>;
  /** Recorded pull/push times of a repository, with what is not flushed yet (embedded, writable). */
  usage?(repository: string): Promise<import('../registry/usage/usage-recorder.js').RepositoryUsage>;
  /** Storage per repository and the store total (embedded backend). */
  storageUsage?(topN: number): Promise<import('../registry/index.js').StorageUsage>;
  /** Pull-through mirrors' hits, misses, bytes and cache size (embedded backend with --mirror). */
  mirrorCounters?(): MirrorCounters[];
}
