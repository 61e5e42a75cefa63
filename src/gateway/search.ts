/**
 * `docker search HOST/term` on a private registry (distribution#975, moby#14081): docker still
 * speaks the v1 index API to the registry host, `GET /v1/_ping` then
 * `GET /v1/search?q=&n=&page=`, expecting moby's SearchResults JSON
 * ({query, num_results, results[{name, description, star_count, is_official, is_automated}]}).
 *
 * The names come from the backend's repository search (registry/repository-search.ts), the
 * same code that answers the usage extension's `q=`: every repository whose name contains the
 * term, across the whole catalog of the embedded core, or across the first 50,000 names of
 * registry:2's catalog with --upstream (backends/upstream-names.ts says why there is a bound).
 * A request reads matching names in catalog order, keeps those the caller may pull, and stops
 * once it holds the requested page plus one name (so it knows whether another page follows): it
 * costs in proportion to page × n, never to the size of the store.
 *
 * Names match, tags do not. Docker Hub's own search matches names and descriptions; matching
 * tags would mean reading every tag of every repository for each search, or keeping a second
 * index of all tags, for a question `docker search` users do not ask. The description still
 * lists a repository's first tags: one page of tags for each result shown.
 *
 * `num_results` counts the matches up to the end of this page and `num_pages` is `page + 1`
 * while more follow: an exact total would mean filtering every match for every search. docker
 * and podman read only `results`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Backend } from '../backends/backend.js';
import { RegistryError, sendRegistryError } from '../oci/errors.js';

/** Matching names read per call of the repository search. */
const CHUNK = 1000;
/**
 * Calls per request at most. Enough for any page a person reads; it bounds a caller who may
 * pull few of very many matches (or a store whose catalog index is still being built, where a
 * call scans 1,000 names of the tree): the page may then come back short, with a next page.
 */
const MAX_CALLS = 20;
/** Tags named in a result's description. */
const DESCRIBED_TAGS = 10;

export interface SearchIndex {
  /** A push through the gateway wrote `repository`: searchable at once. */
  pushed(repository: string): void;
  /** Answers /v1/_ping; returns true if it did. */
  ping(req: IncomingMessage, res: ServerResponse): boolean;
  /** Answers /v1/search for a caller allowed to see `visible` repositories. */
  search(req: IncomingMessage, res: ServerResponse, visible: (repos: string[]) => string[]): Promise<void>;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(res.req?.method === 'HEAD' ? undefined : text);
}

/** The `n` names the caller may see from the `skip`-th on, how many were seen up to them, and whether more follow. */
async function visibleMatches(
  backend: Backend,
  text: string,
  visible: (repos: string[]) => string[],
  skip: number,
  n: number,
): Promise<{ names: string[]; seen: number; more: boolean }> {
  const names: string[] = [];
  let seen = 0;
  let after: string | undefined;
  for (let call = 0; call < MAX_CALLS; call++) {
    const found = await backend.searchRepositories(text, after, CHUNK);
    for (const name of visible(found.names)) {
      if (seen === skip + n) return { names, seen, more: true };
      if (seen >= skip) names.push(name);
      seen++;
    }
    after = found.scannedTo ?? found.names[found.names.length - 1];
    if (!found.more || after === undefined) return { names, seen, more: false };
  }
  return { names, seen, more: true };
}

/** "tags: a, b, ..." from one page of the repository's tags ('' when it has none or they cannot be read). */
async function describe(backend: Backend, repository: string): Promise<string> {
  const page = await backend.tagsPage(repository, DESCRIBED_TAGS).catch(() => ({ names: [], more: false }));
  const tags = page.names.slice(0, DESCRIBED_TAGS);
  if (tags.length === 0) return '';
  return `tags: ${tags.join(', ')}${page.more || page.names.length > DESCRIBED_TAGS ? ', ...' : ''}`;
}

export function createSearchIndex(backend: Backend): SearchIndex {
  return {
    pushed(repository) {
      backend.noteRepository?.(repository);
    },
    ping(_req, res) {
      json(res, 200, true, { 'x-docker-registry-standalone': 'true', 'x-docker-registry-version': '0.9.1' });
      return true;
    },
    async search(req, res, visible) {
      const url = new URL(req.url!, 'http://x');
      const query = (url.searchParams.get('q') ?? '').trim();
      const n = Math.min(100, Math.max(1, Number(url.searchParams.get('n')) || 25));
      const page = Math.max(1, Math.floor(Number(url.searchParams.get('page'))) || 1);
      let found: Awaited<ReturnType<typeof visibleMatches>>;
      try {
        found = await visibleMatches(backend, query.toLowerCase(), visible, (page - 1) * n, n);
      } catch (e) {
        if (!(e instanceof RegistryError)) throw e;
        sendRegistryError(res, e); // the upstream could not list its catalog
        return;
      }
      // A few at a time: quick enough, and never a burst of 100 requests at a registry:2 upstream.
      const descriptions: string[] = [];
      for (let i = 0; i < found.names.length; i += 10)
        descriptions.push(...(await Promise.all(found.names.slice(i, i + 10).map((name) => describe(backend, name)))));
      const results = found.names.map((name, i) => ({
        name,
        description: descriptions[i],
        star_count: 0,
        is_official: false,
        is_automated: false,
      }));
      json(res, 200, {
        query,
        num_results: found.seen,
        num_pages: found.more ? page + 1 : page,
        page,
        page_size: n,
        results,
      });
    },
  };
}
