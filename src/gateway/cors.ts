/**
 * CORS for browser registry UIs (docs/pitfalls.md: "CORS for registry web UIs"). registry:2 answers preflights with 401 when
 * auth is on and "this will never be fixed" (distribution#4458), so the gateway answers them
 * itself, before authentication, for an allow-list of exact origins.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface CorsPolicy {
  /** Answers a preflight if this is one from an allowed origin; returns true if it did. */
  preflight(req: IncomingMessage, res: ServerResponse): boolean;
  /** Adds the response headers for an allowed origin on an actual request. */
  decorate(req: IncomingMessage, res: ServerResponse): void;
}

const METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';
const HEADERS = 'Authorization, Accept, Cache-Control, Content-Type, Content-Range, Range';
// Registry UIs need the digest to delete by digest and Link to page (Joxit#347).
const EXPOSE =
  'Docker-Content-Digest, Docker-Distribution-Api-Version, Docker-Upload-UUID, Link, Location, Range, Content-Range, Content-Length, WWW-Authenticate, OCI-Subject, OCI-Filters-Applied';

export function createCorsPolicy(origins: string[], credentials: boolean, maxAgeMs: number): CorsPolicy | undefined {
  if (origins.length === 0) return undefined;
  const any = origins.includes('*');
  const allowed = new Set(origins.map((o) => o.replace(/\/$/, '').toLowerCase()));
  const match = (req: IncomingMessage): string | undefined => {
    const origin = req.headers.origin;
    if (!origin) return undefined;
    if (any) return '*';
    return allowed.has(origin.toLowerCase()) ? origin : undefined;
  };
  const common = (res: ServerResponse, origin: string) => {
    res.setHeader('access-control-allow-origin', origin);
    if (origin !== '*') res.appendHeader('vary', 'Origin');
    if (credentials && origin !== '*') res.setHeader('access-control-allow-credentials', 'true');
  };
  return {
    preflight(req, res) {
      if (req.method !== 'OPTIONS' || !req.headers['access-control-request-method']) return false;
      const origin = match(req);
      if (!origin) return false;
      common(res, origin);
      res.setHeader('access-control-allow-methods', METHODS);
      res.setHeader('access-control-allow-headers', req.headers['access-control-request-headers'] ?? HEADERS);
      res.setHeader('access-control-max-age', String(Math.floor(maxAgeMs / 1000)));
      res.statusCode = 204;
      res.end();
      return true;
    },
    decorate(req, res) {
      const origin = match(req);
      if (!origin) return;
      common(res, origin);
      res.setHeader('access-control-expose-headers', EXPOSE);
    },
  };
}
