/** A backend has one job: answer a registry request the gateway has already admitted. */
import type { RequestContext } from '../gateway/context.js';
import type { MirrorCounters } from '../mirror/counters.js';

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
  /** Repositories and their tags, for `docker search`. */
  listRepositories(): Promise<string[]>;
  listTags(repository: string): Promise<string[]>;
  close(): Promise<void>;
  /** Recorded pull/push times of a repository, with what is not flushed yet (embedded, writable). */
  usage?(repository: string): Promise<import('../registry/usage/usage-recorder.js').RepositoryUsage>;
  /** Storage per repository and the store total (embedded backend). */
  storageUsage?(topN: number): Promise<import('../registry/index.js').StorageUsage>;
  /** Pull-through mirrors' hits, misses, bytes and cache size (embedded backend with --mirror). */
  mirrorCounters?(): MirrorCounters[];
}
