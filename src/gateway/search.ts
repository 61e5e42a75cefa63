/**
 * `docker search HOST/term` on a private registry (distribution#975, moby#14081): docker still
 * speaks the v1 index API to the registry host, `GET /v1/_ping` then
 * `GET /v1/search?q=&n=&page=`, expecting moby's SearchResults JSON
 * ({query, num_results, results[{name, description, star_count, is_official, is_automated}]}).
 *
 * The index (repositories and their tags) is built from the backend's catalog, kept for a
 * short time, and dropped whenever a push or delete passes through the gateway, so a fresh
 * push is searchable at once. Results are filtered by what the caller may pull.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Backend } from '../backends/backend.js';

const TTL_MS = 30_000;
const MAX_REPOSITORIES = 50_000;

export interface SearchIndex {
  /** Forget the cached index (a push or delete happened). */
  invalidate(): void;
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

export function createSearchIndex(backend: Backend): SearchIndex {
  let cached: { at: number; entries: Promise<{ name: string; tags: string[] }[]> } | undefined;

  async function build(): Promise<{ name: string; tags: string[] }[]> {
    const repos = (await backend.listRepositories()).slice(0, MAX_REPOSITORIES);
    const out: { name: string; tags: string[] }[] = [];
    // A few at a time: enough to be quick, not enough to flood a registry:2 upstream.
    for (let i = 0; i < repos.length; i += 8) {
      const batch = repos.slice(i, i + 8);
      const tags = await Promise.all(batch.map((r) => backend.listTags(r).catch(() => [] as string[])));
      for (const [j, name] of batch.entries()) out.push({ name, tags: tags[j]! });
    }
    return out;
  }

  function entries() {
    if (!cached || Date.now() - cached.at > TTL_MS) {
      const p = build();
      cached = { at: Date.now(), entries: p };
      p.catch(() => {
        cached = undefined;
      });
    }
    return cached.entries;
  }

  return {
    invalidate() {
      cached = undefined;
    },
    ping(_req, res) {
      json(res, 200, true, { 'x-docker-registry-standalone': 'true', 'x-docker-registry-version': '0.9.1' });
      return true;
    },
    async search(req, res, visible) {
      const url = new URL(req.url!, 'http://x');
      const query = (url.searchParams.get('q') ?? '').trim();
      const n = Math.min(100, Math.max(1, Number(url.searchParams.get('n')) || 25));
      const page = Math.max(1, Number(url.searchParams.get('page')) || 1);
      const needle = query.toLowerCase();
      const all = await entries();
      const allowed = new Set(visible(all.map((e) => e.name)));
      const matches = all.filter(
        (e) =>
          allowed.has(e.name) &&
          (needle === '' || e.name.includes(needle) || e.tags.some((t) => t.toLowerCase().includes(needle))),
      );
      const results = matches.slice((page - 1) * n, page * n).map((e) => ({
        name: e.name,
        description: e.tags.length ? `tags: ${e.tags.slice(0, 10).join(', ')}${e.tags.length > 10 ? ', ...' : ''}` : '',
        star_count: 0,
        is_official: false,
        is_automated: false,
      }));
      json(res, 200, {
        query,
        num_results: matches.length,
        num_pages: Math.ceil(matches.length / n),
        page,
        page_size: n,
        results,
      });
    },
  };
}
