/**
 * Storage per repository for /metrics and the dashboard: the largest repositories by bytes
 * stored and the rest summed, from the figures the size documents keep (repository-sizes.ts).
 *
 * A process learns a repository's figures whenever it writes or reads its document; the first
 * time it is asked, it also reads every repository's document once, in the background, one at
 * a time (a store written before the documents existed gets them written then). Until that
 * survey is done, `complete` is false and the figures cover what was seen so far.
 */
import type { Logger } from 'pino';
import type { RepositoryStore } from '../repository.js';
import type { StoreTotal, StoreTotalFigures } from './store-total.js';

export interface StorageUsage {
  /** Every blob once (layers shared across repositories once); null until first counted. */
  store: StoreTotalFigures | null;
  /** The largest repositories by bytes stored (shared layers once per repository), largest first. */
  repositories: { name: string; bytes: number; tags: number }[];
  /** Every other repository, summed. */
  other: { repositories: number; bytes: number; tags: number };
  /** Every repository's figures were read at least once by this process. */
  complete: boolean;
}

export class UsageSurvey {
  private surveying: Promise<void> | null = null;
  private done = false;
  private stopped = false;

  constructor(
    private readonly repos: RepositoryStore,
    private readonly total: StoreTotal,
    private readonly logger?: Logger,
  ) {}

  async figures(topN: number): Promise<StorageUsage> {
    this.start();
    const all = [...this.repos.sizes.seen].map(([name, s]) => ({ name, bytes: s.bytes, tags: s.tags }));
    all.sort((a, b) => b.bytes - a.bytes || (a.name < b.name ? -1 : 1));
    const other = { repositories: 0, bytes: 0, tags: 0 };
    for (const r of all.slice(topN)) {
      other.repositories++;
      other.bytes += r.bytes;
      other.tags += r.tags;
    }
    return { store: await this.total.read(), repositories: all.slice(0, topN), other, complete: this.done };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.surveying;
  }

  private start(): void {
    if (this.surveying || this.done) return;
    this.surveying = (async () => {
      for await (const name of this.repos.index.all()) {
        if (this.stopped) return;
        await this.repos.sizes.read(name);
      }
      this.done = true;
    })()
      .catch((e: unknown) => this.logger?.warn({ err: e }, 'usage: could not survey repository sizes'))
      .finally(() => {
        this.surveying = null;
      });
  }
}
