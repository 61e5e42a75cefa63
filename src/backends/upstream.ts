/**
 * The upstream backend: streams each request to a registry:2 member over a keep-alive pool
 * and the response back, with backpressure in both directions and nothing buffered
 * (docs/pitfalls.md: "Body-size caps"; "Chunked request bodies"; "Buffering bodies to disk"). Node's http client is used directly: the registry-specific header
 * passes (Location on 202/204, single-valued X-Forwarded-*) are the gateway's own anyway,
 * and it keeps the hot path to one socket write per chunk.
 */
import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import type { Backend, BackendHealth } from './backend.js';
import type { RequestContext } from '../gateway/context.js';
import { UpstreamPool, type Member } from './upstream-pool.js';
import { upstreamRequestHeaders, clientResponseHeaders } from '../gateway/headers.js';
import { sendError, API_VERSION, API_VERSION_HEADER, RegistryError } from '../oci/errors.js';
import { RepositorySearch } from '../registry/repository-search.js';
import { UpstreamRepositoryNames, type GetJsonPage } from './upstream-names.js';
import { ImmutableCache } from './immutable-cache.js';
import { hasBody } from '../oci/body.js';
import { memberId, takeMemberParam, withMemberParam } from './upload-binding.js';
import { Coalescer } from '../oci/coalesce.js';
import { canSplice, closeIdleSplices, spliceRead, type SplicePool } from './body-splice.js';
import { UploadBody, uploadHeaders } from './upload-splice.js';

export interface UpstreamOptions {
  urls: URL[];
  balance: 'round-robin' | 'least-conn';
  healthIntervalMs: number;
  idleTimeoutMs: number;
  logger: Logger;
  /** How many catalog names `docker search` reads (default MAX_UPSTREAM_NAMES; small in tests). */
  maxSearchNames?: number;
}

/** Errors that mean the connection was never made, so the request provably never reached the member. */
const NEVER_CONNECTED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** Request bodies are written to the member in blocks of up to this size. */
const UPSTREAM_BLOCK = 256 * 1024;

/**
 * req.pipe(proxyReq), but in blocks rather than one socket write per 16 KiB TLS record, each
 * block reused once the socket has taken it (a fresh block per write made GC a tenth of a push).
 */
function sendBodyInBlocks(req: http.IncomingMessage, proxyReq: http.ClientRequest): void {
  const blocks = new Coalescer(UPSTREAM_BLOCK);
  blocks.on('data', (block: Buffer) => {
    if (!proxyReq.write(block, () => blocks.recycle(block))) blocks.pause();
  });
  proxyReq.on('drain', () => blocks.resume());
  blocks.on('end', () => proxyReq.end());
  // The upstream request is over (answered, failed or aborted): stop taking the client's body.
  proxyReq.on('close', () => {
    req.unpipe(blocks);
    blocks.destroy();
  });
  req.pipe(blocks);
}

export function createUpstreamBackend(opts: UpstreamOptions): Backend {
  const pool = new UpstreamPool(opts.urls, opts.balance, opts.healthIntervalMs);
  pool.start();
  const internalOrigins = new Set(opts.urls.map((u) => u.origin));
  // An upload's PATCH/PUT must reach the member its POST reached (upload-binding.ts).
  const multi = opts.urls.length > 1;
  const memberIds = new Map(opts.urls.map((u) => [memberId(u.origin), u.origin]));
  const splices: SplicePool = new Map();

  /** The member's status line and headers, rewritten for the client; returns the status. */
  function relayHead(
    ctx: RequestContext,
    member: Member,
    started: bigint,
    head: { statusCode?: number; statusMessage?: string; headers: http.IncomingHttpHeaders },
  ): number {
    ctx.upstreamMs = Number(process.hrtime.bigint() - started) / 1e6;
    const status = head.statusCode ?? 502;
    if (status >= 502 && status <= 504) pool.markFailure(member, `answered ${status}`);
    else pool.markSuccess(member);
    const headers = clientResponseHeaders(head.headers, internalOrigins, ctx.client);
    if (multi && status === 202 && ctx.route.operation === 'blob_upload' && typeof headers.location === 'string')
      headers.location = withMemberParam(headers.location, memberId(member.url.origin));
    ctx.res.writeHead(status, head.statusMessage, headers);
    return status;
  }

  /** The member failed this request: retry it elsewhere when that is safe, else tell the client. */
  function failed(
    ctx: RequestContext,
    member: Member,
    attempt: number,
    err: NodeJS.ErrnoException,
    reusedSocket: boolean,
    cacheKey?: string,
  ): Promise<void> {
    const { req, res } = ctx;
    const code = err.code ?? 'ERROR';
    ctx.upstreamError = `${code}: ${err.message}`;
    if (res.destroyed || res.writableEnded) return Promise.resolve();
    const neverSent = !reusedSocket && NEVER_CONNECTED.has(code);
    // A pooled socket the registry closed just as it was reused (docs/pitfalls.md: "Keep-alive races"): only a
    // bodiless first attempt is treated as that race (and retried); anything else is the member failing.
    const keepAliveRace = reusedSocket && code === 'ECONNRESET' && attempt === 0 && !hasBody(req);
    // The client is still there, so this is the member failing (refused, reset, timed out):
    // mark it down until a probe succeeds, so no version check is answered on its behalf.
    if (!keepAliveRace) pool.markFailure(member, ctx.upstreamError);
    // Requests that never reached the member and carry no body are retried once elsewhere
    // (a bound upload session cannot move); nothing with a body is replayed (docs/pitfalls.md: "Keep-alive races").
    const sessionBound = multi && ctx.route.operation === 'blob_upload' && ctx.route.reference !== undefined;
    const idempotent = !hasBody(req) && !sessionBound && !res.headersSent;
    const safeToRetry = neverSent || (keepAliveRace && (req.method === 'GET' || req.method === 'HEAD'));
    if (idempotent && attempt === 0 && safeToRetry) {
      const other = reusedSocket && code === 'ECONNRESET' ? member : (pool.pick(member) ?? member);
      return send(ctx, other, 1, cacheKey);
    }
    opts.logger.warn(
      { upstream: member.name, method: req.method, path: req.url, error: ctx.upstreamError, reqId: ctx.id },
      'upstream request failed',
    );
    if (res.headersSent) res.destroy();
    else if (code === 'ETIMEDOUT')
      sendError(res, 'GATEWAY_TIMEOUT', `upstream ${member.name} sent nothing for ${opts.idleTimeoutMs / 1000}s`, {
        upstream: member.name,
      });
    else if (ctx.route.operation === 'blob_upload' && ctx.route.reference && multi)
      sendError(
        res,
        'BLOB_UPLOAD_UNKNOWN',
        `the registry member holding this upload (${member.name}) is unavailable; restart the upload`,
        { upstream: member.name },
      );
    else
      sendError(res, 'BAD_GATEWAY', `upstream registry ${member.name} is unreachable (${code})`, {
        upstream: member.name,
      });
    return Promise.resolve();
  }

  /**
   * Blob GETs, all HEADs and blob upload bodies take the splice path (body-splice.ts,
   * upload-splice.ts) when they can; the rest the http client.
   */
  function send(ctx: RequestContext, member: Member, attempt: number, cacheKey?: string): Promise<void> {
    const { req, res } = ctx;
    const method = req.method;
    const upload = hasBody(req);
    const spliced = upload
      ? ctx.route.operation === 'blob_upload'
      : method === 'HEAD' || ctx.route.operation === 'blob_get';
    if (!spliced) return forward(ctx, member, attempt, cacheKey);
    let headers = upstreamRequestHeaders(req.headers, ctx.client, req.url!);
    if (!canSplice(member.url, method, headers)) return forward(ctx, member, attempt, cacheKey);
    let body: UploadBody | undefined;
    if (upload) {
      const framed = uploadHeaders(req, headers);
      if (!framed) return forward(ctx, member, attempt, cacheKey);
      headers = framed;
      body = new UploadBody(req, framed['transfer-encoding'] === 'chunked');
    }
    const started = process.hrtime.bigint();
    member.active++;
    ctx.upstreamMember = member.name;
    return spliceRead(splices, {
      url: member.url,
      method: method!,
      path: req.url!,
      headers,
      body,
      idleTimeoutMs: opts.idleTimeoutMs,
      res,
      onHead: (head) => {
        const status = relayHead(ctx, member, started, head);
        if (cacheKey && status === 200 && method === 'HEAD') cache.put(cacheKey, head.headers, undefined);
      },
    }).then(
      (outcome) => {
        member.active--;
        if (outcome === 'declined') return forward(ctx, member, attempt, cacheKey);
      },
      (err: NodeJS.ErrnoException) => {
        member.active--;
        return failed(ctx, member, attempt, err, false, cacheKey);
      },
    );
  }

  function forward(ctx: RequestContext, member: Member, attempt: number, cacheKey?: string): Promise<void> {
    const { req, res } = ctx;
    const mod = member.url.protocol === 'https:' ? https : http;
    const started = process.hrtime.bigint();
    member.active++;
    ctx.upstreamMember = member.name;
    return new Promise<void>((resolve) => {
      let done = false;
      const finish = () => {
        if (!done) {
          done = true;
          member.active--;
          resolve();
        }
      };
      const proxyReq = mod.request({
        protocol: member.url.protocol,
        hostname: member.url.hostname,
        port: member.url.port,
        method: req.method,
        path: req.url,
        headers: upstreamRequestHeaders(req.headers, ctx.client, req.url!),
        agent: member.agent,
        setHost: false,
      });
      // Idle-based, never a total deadline: a 20 GB layer may take hours (docs/pitfalls.md: "Timeouts that kill big transfers").
      proxyReq.setTimeout(opts.idleTimeoutMs, () =>
        proxyReq.destroy(Object.assign(new Error('upstream idle timeout'), { code: 'ETIMEDOUT' })),
      );
      proxyReq.on('response', (proxyRes) => {
        const status = relayHead(ctx, member, started, proxyRes);
        if (cacheKey && status === 200) keepInCache(cacheKey, req.method!, proxyRes);
        proxyRes.pipe(res);
        proxyRes.on('error', () => res.destroy());
        proxyRes.on('end', finish);
      });
      proxyReq.on('error', (err: NodeJS.ErrnoException) => {
        if (done) return;
        done = true;
        member.active--;
        failed(ctx, member, attempt, err, proxyReq.reusedSocket, cacheKey).then(resolve);
      });
      // A client that goes away aborts the upstream request too: no half-open sockets (docs/pitfalls.md: "Buffering bodies to disk").
      // An answer sent before the client's body was all in (the member refused it early) leaves
      // the member's request unfinished: that connection cannot be reused either.
      res.on('close', () => {
        if (!res.writableFinished || !req.complete) proxyReq.destroy();
        finish();
      });
      if (hasBody(req)) sendBodyInBlocks(req, proxyReq);
      else proxyReq.end();
    });
  }

  /** GET one JSON page from a healthy member (for the repository search) and the path its Link points to next. */
  const getJsonPage: GetJsonPage = async (path) => {
    const member = pool.pick();
    if (!member) throw new RegistryError('UNAVAILABLE', 'no healthy upstream registry to list repositories from');
    const mod = member.url.protocol === 'https:' ? https : http;
    const { body, link } = await new Promise<{ body: string; link: string }>((resolve, reject) => {
      const r = mod.request(
        new URL(path, member.url),
        { agent: member.agent, headers: { accept: 'application/json', 'user-agent': 'portcullis-search' } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            text += c;
          });
          res.on('end', () =>
            res.statusCode === 200
              ? resolve({ body: text, link: ([] as string[]).concat(res.headers.link ?? []).join(', ') })
              : reject(new RegistryError('BAD_GATEWAY', `the upstream answered ${res.statusCode} to ${path}`)),
          );
        },
      );
      r.setTimeout(30_000, () => r.destroy(new Error('timed out')));
      r.on('error', (e) => reject(new RegistryError('BAD_GATEWAY', `the upstream could not be asked: ${e.message}`)));
      r.end();
    });
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(body) as Record<string, unknown>;
    } catch {
      throw new RegistryError('BAD_GATEWAY', `the upstream answered ${path} with something other than JSON`);
    }
    const m = /<([^>]+)>;\s*rel="?next"?/.exec(link);
    const nextUrl = m ? new URL(m[1]!, member.url) : undefined;
    return { doc, next: nextUrl && nextUrl.pathname + nextUrl.search };
  };
  const names = new UpstreamRepositoryNames(getJsonPage, opts.maxSearchNames);
  const search = new RepositorySearch(names);

  const cache = new ImmutableCache();

  function keepInCache(key: string, method: string, proxyRes: http.IncomingMessage): void {
    if (method === 'HEAD') {
      cache.put(key, proxyRes.headers, undefined);
      return;
    }
    const length = Number(proxyRes.headers['content-length']);
    if (!(length <= 64 * 1024)) return;
    const chunks: Buffer[] = [];
    proxyRes.on('data', (c: Buffer) => chunks.push(c));
    proxyRes.on('end', () => {
      if (proxyRes.complete) cache.put(key, proxyRes.headers, Buffer.concat(chunks));
    });
  }

  /** Answer from the gateway itself; returns true if it did. */
  function answerLocally(ctx: RequestContext): boolean {
    const { req, res, route } = ctx;
    const read = req.method === 'GET' || req.method === 'HEAD';
    if (!read && (route.operation === 'manifest_delete' || route.operation === 'blob_delete')) cache.forget(route.path);
    if (!read || !pool.openAndHealthy()) return false;
    // The version check: registry:2 answers `{}` to anyone when it has no auth of its own,
    // and the gateway has already authenticated this request. Only while the member
    // is known to be up right now: a monitoring probe must learn that a registry died.
    if (route.operation === 'ping' && pool.openAndAlive()) {
      res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': 2,
        [API_VERSION_HEADER]: API_VERSION,
      });
      res.end(req.method === 'GET' ? '{}' : undefined);
      ctx.upstreamMember = 'gateway';
      return true;
    }
    const key = ImmutableCache.key(req.method!, req.url!, req.headers.accept);
    const hit = key && cache.get(key, req.method!);
    if (!hit) return false;
    res.writeHead(200, { ...hit.headers, [API_VERSION_HEADER]: API_VERSION });
    res.end(req.method === 'GET' ? hit.body : undefined);
    ctx.upstreamMember = 'cache';
    return true;
  }

  return {
    kind: 'upstream',
    searchRepositories: (text, after, limit) => search.page(text, after, limit),
    async tagsPage(repository, limit) {
      const { doc, next } = await getJsonPage(`/v2/${repository}/tags/list?n=${limit}`);
      const tags = Array.isArray(doc.tags) ? doc.tags.filter((t): t is string => typeof t === 'string') : [];
      return { names: tags, more: next !== undefined };
    },
    noteRepository: (repository) => names.note(repository),
    internalOrigins,
    handle(ctx) {
      const route = ctx.route;
      if (answerLocally(ctx)) return Promise.resolve();
      const cacheKey = pool.openAndHealthy()
        ? ImmutableCache.key(ctx.req.method!, ctx.req.url!, ctx.req.headers.accept)
        : undefined;
      let member: Member | undefined;
      if (multi && route.operation === 'blob_upload' && route.reference) {
        const taken = takeMemberParam(ctx.req.url!);
        // The member id is portcullis's own: members never see it (nor does the access log).
        ctx.req.url = taken.url;
        const origin = taken.id === undefined ? undefined : memberIds.get(taken.id);
        member = origin ? pool.members.find((m) => m.url.origin === origin) : undefined;
        if (member && !member.healthy) {
          sendError(
            ctx.res,
            'BLOB_UPLOAD_UNKNOWN',
            `the registry member holding this upload (${member.name}) is down; restart the upload`,
            { upstream: member.name },
          );
          return Promise.resolve();
        }
      }
      member ??= pool.pick();
      if (!member) {
        sendError(ctx.res, 'UNAVAILABLE', 'no upstream registry configured');
        return Promise.resolve();
      }
      return send(ctx, member, 0, cacheKey);
    },
    async health(): Promise<BackendHealth[]> {
      return pool.members.map((m) => ({
        name: m.name,
        kind: 'upstream',
        healthy: m.healthy,
        detail: m.lastError,
        failures: m.failures,
      }));
    },
    async close() {
      pool.close();
      closeIdleSplices(splices);
    },
  };
}
