/**
 * A client for one remote registry: plain HTTP(S) with keep-alive, redirects followed (Docker
 * Hub answers blob GETs with a 307 to its CDN), and the two ways registries ask for
 * credentials. Basic: the configured user and password on every request. Bearer (Docker Hub,
 * ghcr.io, registry:2 with token auth): on a 401 the challenge names a token service (realm),
 * its service name and the scope needed; a token is fetched there (with the credentials, or
 * anonymously) and kept per scope until shortly before it expires. Credentials never appear
 * in errors or logs.
 */
import http from 'node:http';
import https from 'node:https';
import type { RemoteCredentials } from './mirror-config.js';
import { parseChallenge } from './www-authenticate.js';

/** Every manifest type portcullis can store, so a tag is cached in the form any client accepts. */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** The remote could not answer: unreachable, timed out, rate-limiting (429) or failing (5xx). */
export class RemoteUnavailable extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface RemoteResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: http.IncomingMessage;
}

interface Token {
  value: string;
  expiresAt: number;
}

const TIMEOUT_MS = 30_000;
const MAX_REDIRECTS = 5;

export class RemoteClient {
  private readonly tokens = new Map<string, Token>();
  /** The scheme the remote asked for last time, so later requests send credentials up front. */
  private scheme: 'bearer' | 'basic' | 'none' = 'none';
  private readonly agents = {
    http: new http.Agent({ keepAlive: true, maxSockets: 32 }),
    https: new https.Agent({ keepAlive: true, maxSockets: 32 }),
  };

  constructor(
    readonly origin: URL,
    private readonly credentials?: RemoteCredentials,
  ) {}

  /**
   * `method` on `/v2/<repo>/<rest>` of the remote. Statuses 429 and 5xx and network errors
   * throw RemoteUnavailable; every other status is returned with the body unread (the caller
   * reads or discards it).
   */
  async request(
    method: 'GET' | 'HEAD',
    repo: string,
    rest: string,
    headers: Record<string, string> = {},
  ): Promise<RemoteResponse> {
    const scope = `repository:${repo}:pull`;
    const url = new URL(`/v2/${repo}/${rest}`, this.origin);
    let res = await this.send(method, url, { ...headers, ...this.authorization(scope) });
    if (res.status === 401) {
      res.body.resume();
      const challenge = parseChallenge(header(res.headers['www-authenticate']));
      if (challenge?.scheme === 'bearer') {
        this.scheme = 'bearer';
        this.tokens.delete(scope);
        await this.fetchToken(challenge.params, scope);
      } else if (challenge?.scheme === 'basic' && this.credentials) {
        this.scheme = 'basic';
      } else {
        return this.send(method, url, headers); // nothing to offer: let the caller see the 401
      }
      res = await this.send(method, url, { ...headers, ...this.authorization(scope) });
    }
    return res;
  }

  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  private authorization(scope: string): Record<string, string> {
    if (this.scheme === 'basic' && this.credentials) return { authorization: basic(this.credentials) };
    if (this.scheme === 'bearer') {
      const t = this.tokens.get(scope);
      if (t && t.expiresAt > Date.now()) return { authorization: `Bearer ${t.value}` };
    }
    return {};
  }

  /** The token dance: GET realm?service=...&scope=..., with Basic credentials when configured. */
  private async fetchToken(params: Record<string, string>, scope: string): Promise<void> {
    if (!params.realm) throw new RemoteUnavailable(`${this.origin.origin} sent a Bearer challenge without a realm`);
    let realm: URL;
    try {
      realm = new URL(params.realm, this.origin);
    } catch {
      throw new RemoteUnavailable(`${this.origin.origin} sent an unusable token realm`);
    }
    if (params.service) realm.searchParams.set('service', params.service);
    realm.searchParams.set('scope', params.scope ?? scope);
    const res = await this.send(
      'GET',
      realm,
      this.credentials ? { authorization: basic(this.credentials) } : {},
      // The token service is not the registry: its 401 means wrong credentials, not "down".
    );
    const body = await readSmall(res.body, 1 << 20);
    if (res.status !== 200) return; // the retried request then shows the remote's 401/403 to the caller
    let doc: { token?: string; access_token?: string; expires_in?: number };
    try {
      doc = JSON.parse(body.toString('utf8'));
    } catch {
      throw new RemoteUnavailable(`the token service of ${this.origin.origin} answered something other than JSON`);
    }
    const value = doc.token ?? doc.access_token;
    if (!value) return;
    // Spec default lifetime is 60 s; renew 10 s early so a token never expires mid-request.
    const lifetime = Math.max(10, (doc.expires_in ?? 60) - 10) * 1000;
    this.tokens.set(scope, { value, expiresAt: Date.now() + lifetime });
  }

  /** One request, following redirects (credentials are only sent to the remote's own origin). */
  private async send(method: string, url: URL, headers: Record<string, string>): Promise<RemoteResponse> {
    let target = url;
    for (let hop = 0; ; hop++) {
      const sameOrigin = target.origin === this.origin.origin;
      const h = sameOrigin ? headers : withoutAuthorization(headers);
      const res = await this.once(method, target, h);
      const location = header(res.headers.location);
      if ([301, 302, 303, 307, 308].includes(res.status) && location && hop < MAX_REDIRECTS) {
        res.body.resume();
        target = new URL(location, target);
        continue;
      }
      if (res.status === 429 || res.status >= 500) {
        res.body.resume();
        const what = res.status === 429 ? 'is rate-limiting (429)' : `failed (${res.status})`;
        throw new RemoteUnavailable(`${this.origin.origin} ${what}`, res.status);
      }
      return res;
    }
  }

  private once(method: string, url: URL, headers: Record<string, string>): Promise<RemoteResponse> {
    const mod = url.protocol === 'https:' ? https : http;
    const agent = url.protocol === 'https:' ? this.agents.https : this.agents.http;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, { method, headers, agent, timeout: TIMEOUT_MS }, (res) => {
        resolve({ status: res.statusCode ?? 502, headers: res.headers, body: res });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000}s`)));
      req.on('error', (e) => {
        const code = (e as NodeJS.ErrnoException).code;
        reject(new RemoteUnavailable(`${url.origin} is unreachable (${code ?? e.message})`));
      });
      req.end();
    });
  }
}

function basic(c: RemoteCredentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

function withoutAuthorization(h: Record<string, string>): Record<string, string> {
  const { authorization: _, ...rest } = h;
  return rest;
}

export function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Read a small body (manifests, token answers, error documents) up to `limit` bytes. */
export async function readSmall(body: http.IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of body) {
    size += (c as Buffer).length;
    if (size > limit) {
      body.destroy();
      throw new RemoteUnavailable(`the remote sent more than ${limit} bytes where a small document was expected`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}
