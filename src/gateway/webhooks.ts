/**
 * Registry event notifications, in registry:2's envelope so existing receivers work:
 * `application/vnd.docker.distribution.events.v2+json`, `{"events":[{id, timestamp, action,
 * target{mediaType,digest,size,length,repository,url,tag}, request{id,addr,host,method,useragent},
 * actor{name}, source{addr,instanceID}}]}` (distribution docs/content/about/notifications.md).
 *
 * Delivery is off the request path: a bounded queue per endpoint, one request at a time, a
 * timeout, retries with exponential backoff; when the queue is full the oldest event is
 * dropped and counted, so a dead receiver can never grow memory or slow pushes.
 */
import http from 'node:http';
import https from 'node:https';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { RequestContext } from './context.js';

export const EVENTS_MEDIA_TYPE = 'application/vnd.docker.distribution.events.v2+json';

export interface RegistryEvent {
  id: string;
  timestamp: string;
  action: 'push' | 'pull' | 'delete';
  target: {
    mediaType?: string;
    digest?: string;
    size?: number;
    length?: number;
    repository: string;
    url?: string;
    tag?: string;
  };
  request: { id: string; addr: string; host: string; method: string; useragent: string };
  actor: { name?: string };
  source: { addr: string; instanceID: string };
}

export interface WebhookOptions {
  endpoints: string[];
  timeoutMs: number;
  queueSize: number;
  maxAttempts: number;
  logger: Logger;
  onDropped?: (endpoint: string) => void;
  onDelivered?: (endpoint: string, ok: boolean) => void;
}

const INSTANCE = randomUUID();
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** The event a finished request stands for, if any (manifest and blob pushes, pulls, deletes). */
export function eventFor(ctx: RequestContext, status: number): RegistryEvent | undefined {
  const { route, req, res } = ctx;
  if (status < 200 || status >= 300 || !route.repository) return undefined;
  let action: RegistryEvent['action'];
  switch (route.operation) {
    case 'manifest_put':
      action = 'push';
      break;
    case 'manifest_get':
    case 'blob_get':
      action = 'pull';
      break;
    case 'manifest_delete':
    case 'blob_delete':
      action = 'delete';
      break;
    case 'blob_upload':
      if (req.method !== 'PUT' || status !== 201) return undefined;
      action = 'push';
      break;
    default:
      return undefined;
  }
  const digest =
    (res.getHeader('docker-content-digest') as string | undefined) ??
    (route.reference && DIGEST.test(route.reference) ? route.reference : undefined);
  const isManifest = route.operation.startsWith('manifest');
  const tag = isManifest && route.reference && !DIGEST.test(route.reference) ? route.reference : undefined;
  const size =
    Number(isManifest && action === 'push' ? req.headers['content-length'] : res.getHeader('content-length')) ||
    undefined;
  const origin = `${ctx.client.scheme}://${ctx.client.host}`;
  return {
    id: randomUUID(),
    timestamp: new Date().toISOString(),
    action,
    target: {
      mediaType: isManifest
        ? action === 'push'
          ? req.headers['content-type']
          : (res.getHeader('content-type') as string | undefined)
        : 'application/octet-stream',
      digest,
      size,
      length: size,
      repository: route.repository,
      url: digest ? `${origin}/v2/${route.repository}/${isManifest ? 'manifests' : 'blobs'}/${digest}` : undefined,
      tag,
    },
    request: {
      id: ctx.id,
      addr: `${ctx.client.ip}`,
      host: ctx.client.host,
      method: req.method!,
      useragent: ctx.userAgent ?? '',
    },
    actor: { name: ctx.user },
    source: { addr: hostname(), instanceID: INSTANCE },
  };
}

function post(url: URL, body: string, contentType: string, timeoutMs: number): Promise<number> {
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': contentType,
          'content-length': Buffer.byteLength(body),
          'user-agent': 'portcullis-notifications',
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

class EndpointQueue {
  private readonly queue: string[] = [];
  private busy = false;
  private closed = false;
  constructor(
    private readonly url: URL,
    private readonly contentType: string,
    private readonly opts: WebhookOptions,
  ) {}

  push(body: string): void {
    if (this.queue.length >= this.opts.queueSize) {
      this.queue.shift();
      this.opts.onDropped?.(this.url.href);
    }
    this.queue.push(body);
    void this.drain();
  }

  private async drain(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    while (this.queue.length && !this.closed) {
      const body = this.queue[0]!;
      let delivered = false;
      for (let attempt = 1; attempt <= this.opts.maxAttempts && !this.closed; attempt++) {
        try {
          const status = await post(this.url, body, this.contentType, this.opts.timeoutMs);
          if (status >= 200 && status < 300) {
            delivered = true;
            break;
          }
          this.opts.logger.warn({ endpoint: this.url.href, status, attempt }, 'webhook endpoint refused an event');
        } catch (e) {
          this.opts.logger.warn(
            { endpoint: this.url.href, error: (e as Error).message, attempt },
            'webhook delivery failed',
          );
        }
        await new Promise((r) => setTimeout(r, Math.min(30_000, 250 * 2 ** (attempt - 1))).unref());
      }
      this.opts.onDelivered?.(this.url.href, delivered);
      if (!delivered) this.opts.onDropped?.(this.url.href);
      if (this.queue[0] === body) this.queue.shift();
    }
    this.busy = false;
  }

  close(): void {
    this.closed = true;
  }
}

export interface Notifier {
  /** Queue one JSON document for every endpoint. */
  notify(payload: object): void;
  close(): void;
}

export function createNotifier(opts: WebhookOptions, contentType = EVENTS_MEDIA_TYPE): Notifier | undefined {
  if (opts.endpoints.length === 0) return undefined;
  const queues = opts.endpoints.map((e) => new EndpointQueue(new URL(e), contentType, opts));
  return {
    notify(payload) {
      const body = JSON.stringify(payload);
      for (const q of queues) q.push(body);
    },
    close() {
      for (const q of queues) q.close();
    },
  };
}
