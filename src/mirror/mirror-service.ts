/**
 * Pull-through mirrors in front of the embedded registry core.
 *
 * A request under a mirror prefix (`/v2/dockerhub/library/alpine/...`) is made to hold locally
 * what it asks for, fetched from the remote when missing, and then answered by the core from
 * storage exactly like a pushed image (same headers, ranges, HEAD, storage redirects). So
 * mirrored repositories are ordinary repositories to everything else: access rules, search,
 * the catalog, stats. Blobs and digest-addressed manifests never change, so once cached they
 * are served without asking the remote; tags are re-checked with a HEAD after the tag TTL,
 * and served stale (said in a header and the log) when the remote is down or rate-limiting.
 * Pushes and deletes under a prefix are refused: the remote owns that content.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { RegistryError, sendError, sendRegistryError } from '../oci/errors.js';
import { digestOf, requireDigest } from '../oci/digest.js';
import { parseRange } from '../registry/http.js';
import { MANIFEST_LIMIT } from '../registry/handlers/manifests.js';
import { paginate } from '../registry/handlers/tags.js';
import { parseManifest } from '../registry/manifest-parse.js';
import { parseReference, TAG } from '../oci/names.js';
import { classifyRoute, type RegistryRoute } from '../oci/route.js';
import type { RepositoryStore, Revision } from '../registry/repository.js';
import type { Storage } from '../registry/storage/types.js';
import { newCounters, type MirrorCounters } from './counters.js';
import type { MirrorSpec } from './mirror-config.js';
import { pullRecordKey } from './pull-record.js';
import { measureAndEvict } from './eviction.js';
import { header, MANIFEST_ACCEPT, readSmall, RemoteClient, RemoteUnavailable } from './remote-client.js';
import { SharedFetch } from './shared-fetch.js';
import { SingleFlight } from './single-flight.js';

/** The parts of the registry core a mirror works with. */
export interface MirrorCore {
  readonly storage: Storage;
  readonly repos: RepositoryStore;
  handle(req: IncomingMessage, res: ServerResponse, route?: RegistryRoute): Promise<void>;
}

export interface MirrorServiceOptions {
  mirrors: MirrorSpec[];
  /** The prefix that serves names outside every prefix which are not in local storage. */
  defaultPrefix?: string;
  tagTtlMs: number;
  /** Local directory for the files clients read a blob from while it is being fetched. */
  spoolDir: string;
  logger: Logger;
  /** Cache budget across all mirrors; over it, the least recently pulled manifests are evicted. */
  maxBytes?: number;
  /** How often the cache is measured (and, with maxBytes, trimmed). */
  maintenanceIntervalMs?: number;
}

interface Mirror {
  spec: MirrorSpec;
  remote: RemoteClient;
  counters: MirrorCounters;
}

/** Which mirror a request is for, the local repository, and the name on the remote. */
interface Target {
  mirror: Mirror;
  local: string;
  remote: string;
}

/** The state header on mirrored answers: hit, miss, revalidated or stale. */
export const MIRROR_HEADER = 'x-portcullis-mirror';
const PULL_RECORD_INTERVAL_MS = 1000;

export class MirrorService {
  private readonly mirrors: Mirror[];
  private readonly fetches = new Map<string, SharedFetch>();
  private readonly flights = new SingleFlight();
  private readonly pullWrites = new Map<string, number>();
  private maintenanceTimer?: NodeJS.Timeout;
  private maintaining = false;

  constructor(
    private readonly core: MirrorCore,
    private readonly opts: MirrorServiceOptions,
  ) {
    this.mirrors = opts.mirrors.map((spec) => ({
      spec,
      remote: new RemoteClient(spec.url, spec.credentials),
      counters: newCounters(spec.prefix, spec.url.origin),
    }));
  }

  counters(): MirrorCounters[] {
    return this.mirrors.map((m) => m.counters);
  }

  prefixes(): string[] {
    return this.mirrors.map((m) => m.spec.prefix);
  }

  /** Measure the cache now and then (the cache-size metric), evicting when over the budget. */
  startMaintenance(): void {
    const every = this.opts.maintenanceIntervalMs ?? 60_000;
    const tick = () => {
      this.maintain().finally(() => {
        this.maintenanceTimer = setTimeout(tick, every);
        this.maintenanceTimer.unref();
      });
    };
    this.maintenanceTimer = setTimeout(tick, 1000);
    this.maintenanceTimer.unref();
  }

  async maintain(): Promise<void> {
    if (this.maintaining) return;
    this.maintaining = true;
    try {
      const r = await measureAndEvict(this.core.storage, this.core.repos, {
        prefixes: this.prefixes(),
        maxBytes: this.opts.maxBytes,
        logger: this.opts.logger,
      });
      for (const m of this.mirrors) m.counters.cacheBytes = r.after.get(m.spec.prefix) ?? 0;
      if (r.manifestsEvicted || r.blobsDeleted)
        this.opts.logger.info(
          { manifests: r.manifestsEvicted, blobs: r.blobsDeleted, bytesFreed: r.bytesFreed },
          'mirror: cache trimmed to its budget',
        );
    } catch (e) {
      this.opts.logger.warn({ err: (e as Error).message }, 'mirror: could not measure the cache');
    } finally {
      this.maintaining = false;
    }
  }

  close(): void {
    clearTimeout(this.maintenanceTimer);
    for (const m of this.mirrors) m.remote.close();
  }

  /** Answer any /v2 request: mirrored names here, everything else straight to the core. */
  async handle(req: IncomingMessage, res: ServerResponse, route?: RegistryRoute): Promise<void> {
    try {
      const r = route ?? classifyRoute(req.method ?? 'GET', req.url ?? '/');
      if (!(await this.route(req, res, r))) await this.core.handle(req, res, route);
    } catch (e) {
      if (e instanceof RegistryError) sendRegistryError(res, e);
      else if (e instanceof RemoteUnavailable)
        sendError(res, 'UNAVAILABLE', `${e.message}; that content is not cached here`);
      else if (req.destroyed || res.destroyed) res.destroy();
      else {
        this.opts.logger.error({ err: e, method: req.method, url: req.url }, 'mirror: internal error');
        sendError(res, 'INTERNAL', 'internal server error');
      }
    }
  }

  /** Handles the request when it is for a mirror (true), or leaves it to the core (false). */
  private async route(req: IncomingMessage, res: ServerResponse, route: RegistryRoute): Promise<boolean> {
    const name = route.repository;
    if (!name || !route.endpoint || route.strayTrailingSlash) return false;
    const method = (req.method ?? 'GET').toUpperCase();
    const read = method === 'GET' || method === 'HEAD';
    if (route.endpoint === 'upload' || route.endpoint === 'upload_session') {
      const t = this.byPrefix(name);
      if (t) throw this.readOnly(t);
      return false;
    }
    let t = this.byPrefix(name);
    if (!t && read && this.opts.defaultPrefix && !(await this.core.repos.exists(name))) {
      // docker's registry-mirrors asks for /v2/library/alpine/...: the default mirror's name.
      const mirror = this.mirrors.find((x) => x.spec.prefix === this.opts.defaultPrefix)!;
      t = { mirror, local: `${mirror.spec.prefix}/${name}`, remote: name };
      const raw = req.url ?? '';
      // The core classifies the rewritten target again (no route passed on below).
      req.url = `/v2/${t.local}${raw.slice(4 + name.length)}`;
    }
    if (!t) return false;
    if (!read) throw this.readOnly(t);
    const ref = route.reference ?? '';
    if (route.endpoint === 'tags') await this.tags(t, req, res);
    else if (route.endpoint === 'manifest') await this.manifest(t, ref, req, res);
    else if (route.endpoint === 'blob') await this.blob(t, ref, req, res);
    else await this.core.handle(req, res); // referrers: what is cached
    return true;
  }

  private byPrefix(name: string): Target | undefined {
    for (const mirror of this.mirrors) {
      const p = `${mirror.spec.prefix}/`;
      if (name.startsWith(p) && name.length > p.length) return { mirror, local: name, remote: name.slice(p.length) };
    }
    return undefined;
  }

  private readOnly(t: Target): RegistryError {
    return new RegistryError(
      'DENIED',
      `${t.mirror.spec.prefix}/ is a pull-through mirror of ${t.mirror.spec.url.origin}: pushes and deletes are refused there (push to a name outside ${t.mirror.spec.prefix}/)`,
      { mirror: t.mirror.spec.prefix },
    );
  }

  // --- blobs -------------------------------------------------------------------------------------

  private async blob(t: Target, ref: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const d = requireDigest(ref);
    const { storage, repos } = this.core;
    const c = t.mirror.counters;
    const key = `${t.local}@${d.digest}`;
    let fetch = this.fetches.get(key);
    if (!fetch && (await repos.hasBlob(t.local, d.digest)) && (await storage.statBlob(d.digest))) {
      c.hits++;
      res.setHeader(MIRROR_HEADER, 'hit');
      return this.core.handle(req, res);
    }
    if (!fetch && (await storage.statBlob(d.digest))) {
      // The bytes are here for another repository; only the remote can say this one has them.
      const r = await t.mirror.remote.request('HEAD', t.remote, `blobs/${d.digest}`);
      r.body.resume();
      if (r.status !== 200) throw this.remoteRefused(t, r.status, `blob ${d.digest}`);
      await repos.linkBlob(t.local, d.digest);
      c.hits++;
      res.setHeader(MIRROR_HEADER, 'hit');
      return this.core.handle(req, res);
    }
    c.misses++;
    res.setHeader(MIRROR_HEADER, 'miss');
    if (req.method === 'HEAD' && !fetch) {
      const r = await t.mirror.remote.request('HEAD', t.remote, `blobs/${d.digest}`);
      r.body.resume();
      if (r.status !== 200) throw this.remoteRefused(t, r.status, `blob ${d.digest}`);
      return this.sendBlobHeaders(res, d.digest, header(r.headers['content-length']));
    }
    // Checked again: another request may have started the fetch while this one looked at storage.
    fetch = this.fetches.get(key) ?? this.startFetch(t, d, key);
    await fetch.ready;
    if (req.method === 'HEAD') return this.sendBlobHeaders(res, d.digest, fetch.size ?? undefined);

    let start = 0;
    let end = Number.POSITIVE_INFINITY;
    res.setHeader('docker-content-digest', d.digest);
    res.setHeader('content-type', 'application/octet-stream');
    res.setHeader('docker-distribution-api-version', 'registry/2.0');
    const range = fetch.size !== null ? parseRange(req.headers.range, fetch.size) : null;
    if (range === 'unsatisfiable')
      throw new RegistryError('RANGE_INVALID', 'requested range not satisfiable', { size: fetch.size }, 416, {
        'content-range': `bytes */${fetch.size}`,
      });
    if (range && fetch.size !== null) {
      start = range.start;
      end = range.end;
      res.statusCode = 206;
      res.setHeader('content-range', `bytes ${start}-${end}/${fetch.size}`);
      res.setHeader('content-length', end - start + 1);
    } else {
      res.statusCode = 200;
      if (fetch.size !== null) res.setHeader('content-length', fetch.size);
    }
    await pipeline(fetch.reader(start, end), res);
  }

  private sendBlobHeaders(res: ServerResponse, digest: string, size: string | number | undefined): void {
    res.statusCode = 200;
    res.setHeader('docker-content-digest', digest);
    res.setHeader('content-type', 'application/octet-stream');
    res.setHeader('docker-distribution-api-version', 'registry/2.0');
    if (size !== undefined) res.setHeader('content-length', size);
    res.end();
  }

  private startFetch(t: Target, d: ReturnType<typeof requireDigest>, key: string): SharedFetch {
    const { storage, repos } = this.core;
    const c = t.mirror.counters;
    const log = this.opts.logger;
    const fetch = new SharedFetch(
      d,
      this.opts.spoolDir,
      async () => {
        const r = await t.mirror.remote.request('GET', t.remote, `blobs/${d.digest}`);
        if (r.status !== 200) {
          r.body.resume();
          throw this.remoteRefused(t, r.status, `blob ${d.digest}`);
        }
        return r.body;
      },
      {
        beginUpload: () => storage.createUpload(t.local),
        appendUpload: (id, data) => storage.appendUpload(id, 0, data),
        commit: async (id) => {
          await storage.commitUpload(id, d.digest);
          await repos.linkBlob(t.local, d.digest);
        },
        discard: async (id) => {
          await storage.deleteUpload(id);
        },
      },
      (n) => {
        c.bytesFromRemote += n;
      },
    );
    this.fetches.set(key, fetch);
    fetch.settled.then(() => {
      this.fetches.delete(key);
      if (fetch.state === 'done') c.cacheBytes += fetch.written;
      if (fetch.state === 'done')
        log.info(
          { mirror: t.mirror.spec.prefix, repository: t.local, digest: d.digest, size: fetch.written },
          'mirror: blob cached',
        );
      else if (!(fetch.error instanceof RegistryError))
        log.warn(
          { mirror: t.mirror.spec.prefix, repository: t.local, digest: d.digest, reason: fetch.error?.message },
          'mirror: blob fetch failed, nothing cached',
        );
    });
    return fetch;
  }

  // --- manifests ---------------------------------------------------------------------------------

  private async manifest(t: Target, ref: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const r = parseReference(ref);
    const { repos } = this.core;
    const c = t.mirror.counters;
    if (r.digest) {
      if (await repos.getRevision(t.local, r.digest.digest)) {
        c.hits++;
        res.setHeader(MIRROR_HEADER, 'hit');
      } else {
        c.misses++;
        res.setHeader(MIRROR_HEADER, 'miss');
        await this.flights.run(`m:${t.local}@${r.digest.digest}`, () => this.fetchManifest(t, r.digest.digest));
      }
      await this.recordPull(t.local, r.digest.digest);
      return this.core.handle(req, res);
    }
    const tag = r.tag;
    const cached = await repos.resolveTag(t.local, tag);
    const mtime = cached ? await repos.tagMtime(t.local, tag) : null;
    if (cached && mtime !== null && Date.now() - mtime < this.opts.tagTtlMs) {
      c.hits++;
      res.setHeader(MIRROR_HEADER, 'hit');
      await this.recordPull(t.local, cached.digest);
      return this.core.handle(req, res);
    }
    const outcome = await this.flights.run(`t:${t.local}:${tag}`, () => this.revalidate(t, tag, cached?.digest));
    if (outcome.kind === 'stale') {
      c.staleServes++;
      res.setHeader(MIRROR_HEADER, 'stale');
      res.setHeader('warning', '110 portcullis "Response is Stale"');
      this.opts.logger.warn(
        { mirror: t.mirror.spec.prefix, repository: t.local, tag, digest: cached?.digest, reason: outcome.reason },
        'mirror: remote unavailable, serving the cached tag (stale)',
      );
    } else if (outcome.kind === 'same') {
      c.hits++;
      res.setHeader(MIRROR_HEADER, 'revalidated');
    } else {
      c.misses++;
      res.setHeader(MIRROR_HEADER, 'miss');
    }
    await this.recordPull(t.local, outcome.digest);
    return this.core.handle(req, res);
  }

  /** Ask the remote where the tag points now; fetch the manifest when it moved or is new here. */
  private async revalidate(
    t: Target,
    tag: string,
    cachedDigest: string | undefined,
  ): Promise<{ kind: 'same' | 'updated'; digest: string } | { kind: 'stale'; digest: string; reason: string }> {
    const { repos } = this.core;
    try {
      if (cachedDigest) {
        const h = await t.mirror.remote.request('HEAD', t.remote, `manifests/${tag}`, { accept: MANIFEST_ACCEPT });
        h.body.resume();
        if (h.status === 200 && header(h.headers['docker-content-digest']) === cachedDigest) {
          const rev = await repos.getRevision(t.local, cachedDigest);
          // Rewriting the tag document restarts its TTL (its mtime is the last check).
          await repos.putTag(t.local, tag, cachedDigest, rev ?? undefined);
          return { kind: 'same', digest: cachedDigest };
        }
        if (h.status === 404) {
          await repos.deleteTag(t.local, tag);
          throw this.remoteRefused(t, 404, `${t.remote}:${tag}`);
        }
        if (h.status !== 200) throw this.remoteRefused(t, h.status, `${t.remote}:${tag}`);
      }
      const digest = await this.fetchManifest(t, undefined, tag);
      return { kind: 'updated', digest };
    } catch (e) {
      if (e instanceof RemoteUnavailable && cachedDigest)
        return { kind: 'stale', digest: cachedDigest, reason: e.message };
      if (e instanceof RemoteUnavailable)
        throw new RegistryError(
          'UNAVAILABLE',
          `mirror ${t.mirror.spec.prefix}: ${e.message}, and ${t.remote}:${tag} is not cached`,
          { mirror: t.mirror.spec.prefix },
        );
      throw e;
    }
  }

  /** GET a manifest from the remote, check its digest, store it (and the tag) like a push would. */
  private async fetchManifest(t: Target, digest: string | undefined, tag?: string): Promise<string> {
    const { storage, repos } = this.core;
    let r: Awaited<ReturnType<RemoteClient['request']>>;
    try {
      r = await t.mirror.remote.request('GET', t.remote, `manifests/${digest ?? tag}`, { accept: MANIFEST_ACCEPT });
    } catch (e) {
      if (e instanceof RemoteUnavailable)
        throw new RegistryError(
          'UNAVAILABLE',
          `mirror ${t.mirror.spec.prefix}: ${e.message}, and ${t.remote}@${digest ?? tag} is not cached`,
        );
      throw e;
    }
    if (r.status !== 200) {
      r.body.resume();
      throw this.remoteRefused(t, r.status, `${t.remote}:${digest ?? tag}`);
    }
    const body = await readSmall(r.body, MANIFEST_LIMIT);
    t.mirror.counters.bytesFromRemote += body.length;
    t.mirror.counters.cacheBytes += body.length;
    const m = parseManifest(body, header(r.headers['content-type']));
    const expected = digest ?? header(r.headers['docker-content-digest']);
    const actual = digestOf(body, expected?.startsWith('sha512:') ? 'sha512' : 'sha256');
    if (expected && expected !== actual)
      throw new RegistryError(
        'BAD_GATEWAY',
        `mirror ${t.mirror.spec.prefix}: the remote sent a manifest whose digest is ${actual}, not ${expected}`,
      );
    await storage.putBlob(actual, body);
    await repos.linkBlob(t.local, actual);
    const revision: Revision = { mediaType: m.mediaType, size: body.length };
    await repos.putRevision(t.local, actual, revision);
    if (tag) await repos.putTag(t.local, tag, actual, revision);
    return actual;
  }

  private async recordPull(repo: string, digest: string): Promise<void> {
    const key = `${repo}@${digest}`;
    const now = Date.now();
    if (now - (this.pullWrites.get(key) ?? 0) < PULL_RECORD_INTERVAL_MS) return;
    this.pullWrites.set(key, now);
    if (this.pullWrites.size > 10_000) this.pullWrites.delete(this.pullWrites.keys().next().value as string);
    await this.core.storage.writeMeta(pullRecordKey(repo, digest), String(now)).catch((e: Error) => {
      this.opts.logger.warn({ err: e.message, repository: repo }, 'mirror: could not record a pull');
    });
  }

  // --- tags --------------------------------------------------------------------------------------

  private async tags(t: Target, req: IncomingMessage, res: ServerResponse): Promise<void> {
    let tags: string[];
    try {
      const r = await t.mirror.remote.request('GET', t.remote, 'tags/list');
      if (r.status !== 200) {
        r.body.resume();
        throw this.remoteRefused(t, r.status, `the tags of ${t.remote}`);
      }
      const doc = JSON.parse((await readSmall(r.body, 16 << 20)).toString('utf8')) as { tags?: unknown };
      tags = Array.isArray(doc.tags) ? doc.tags.filter((x): x is string => typeof x === 'string' && TAG.test(x)) : [];
    } catch (e) {
      if (!(e instanceof RemoteUnavailable)) throw e;
      res.setHeader(MIRROR_HEADER, 'stale');
      return this.core.handle(req, res); // the remote is down: the tags cached here
    }
    const q = (req.url ?? '').indexOf('?');
    const query = new URLSearchParams(q === -1 ? '' : (req.url ?? '').slice(q + 1));
    const { page, link } = paginate(tags, query, `/v2/${t.local}/tags/list`);
    const body = JSON.stringify({ name: t.local, tags: page });
    res.statusCode = 200;
    res.setHeader('content-type', 'application/json');
    res.setHeader('docker-distribution-api-version', 'registry/2.0');
    res.setHeader('content-length', Buffer.byteLength(body));
    if (link) res.setHeader('link', link);
    res.end(body);
  }

  /** A remote's refusal, as the registry error a client understands. */
  private remoteRefused(t: Target, status: number, what: string): RegistryError {
    const origin = t.mirror.spec.url.origin;
    if (status === 404)
      return new RegistryError(
        what.startsWith('blob') ? 'BLOB_UNKNOWN' : 'MANIFEST_UNKNOWN',
        `${what} not found on ${origin}`,
        { mirror: t.mirror.spec.prefix },
      );
    if (status === 401 || status === 403)
      return new RegistryError(
        'DENIED',
        `${origin} refused access to ${what} (${status})${t.mirror.spec.credentials ? ' with the configured credentials' : '; it may need --mirror-credentials'}`,
        { mirror: t.mirror.spec.prefix },
      );
    return new RegistryError('BAD_GATEWAY', `${origin} answered ${status} for ${what}`, {
      mirror: t.mirror.spec.prefix,
    });
  }
}
