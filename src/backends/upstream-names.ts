/**
 * registry:2's catalog as the names of the repository search (registry/repository-search.ts),
 * so `docker search` over --upstream is answered by the same code as over the embedded core.
 *
 * registry:2 cannot search, so the names are read from its `_catalog`, 1,000 a request, and
 * only up to a bound: the first `MAX_UPSTREAM_NAMES` (50,000) names in catalog (byte) order,
 * 50 requests, read again in the background at most every 15 s while people search. Names
 * after the bound are never found. Tags are not read here at all: a search result's
 * description asks for one small page of tags of each repository on the page it shows.
 */
import type { RepositoryNames } from '../registry/repository-search.js';

export const MAX_UPSTREAM_NAMES = 50_000;
const CATALOG_PAGE = 1000;

/** One JSON page from the upstream and the path of the next one (its Link), if any. */
export type GetJsonPage = (path: string) => Promise<{ doc: Record<string, unknown>; next?: string }>;

const namesOf = (doc: Record<string, unknown>): string[] =>
  Array.isArray(doc.repositories) ? doc.repositories.filter((n): n is string => typeof n === 'string') : [];

export class UpstreamRepositoryNames implements RepositoryNames {
  onAdded?: (name: string) => void;
  /** The last name read when the bound cut the catalog short (names after it are not searched). */
  private cutAfter: string | undefined;

  constructor(
    private readonly getPage: GetJsonPage,
    private readonly max = MAX_UPSTREAM_NAMES,
  ) {}

  async isComplete(): Promise<boolean> {
    return true;
  }

  async *all(): AsyncIterable<string> {
    let next: string | undefined = `/v2/_catalog?n=${Math.min(CATALOG_PAGE, this.max)}`;
    let count = 0;
    let last: string | undefined;
    while (next) {
      const page: Awaited<ReturnType<GetJsonPage>> = await this.getPage(next);
      for (const name of namesOf(page.doc)) {
        if (count === this.max) {
          this.cutAfter = last;
          return;
        }
        count++;
        last = name;
        yield name;
      }
      next = page.next;
      if (count === this.max && next) {
        this.cutAfter = last;
        return;
      }
    }
    this.cutAfter = undefined;
  }

  async page(after: string | undefined, limit: number): Promise<{ names: string[]; more: boolean }> {
    const last = after === undefined ? '' : `&last=${encodeURIComponent(after)}`;
    const { doc, next } = await this.getPage(`/v2/_catalog?n=${limit}${last}`);
    return { names: namesOf(doc), more: next !== undefined };
  }

  /**
   * A push through the gateway created `name`: searchable at once, unless it sorts after the
   * bound (it would vanish again at the next read of the catalog).
   */
  note(name: string): void {
    if (this.cutAfter === undefined || name <= this.cutAfter) this.onAdded?.(name);
  }
}
