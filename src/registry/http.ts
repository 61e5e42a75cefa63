/** Small HTTP helpers shared by the handlers. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { API_VERSION, API_VERSION_HEADER, RegistryError } from '../oci/errors.js';

/** Write a complete non-error response; every response carries the API version header. */
export function send(
  res: ServerResponse,
  status: number,
  headers: Record<string, string | number> = {},
  body?: Buffer | string,
): void {
  res.statusCode = status;
  res.setHeader(API_VERSION_HEADER, API_VERSION);
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  if (body === undefined) {
    if (!('content-length' in lowerKeys(headers))) res.setHeader('content-length', 0);
    res.end();
    return;
  }
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  res.setHeader('content-length', buf.length);
  // HEAD: same headers (Content-Length included, pitfall #14), no body.
  res.end(res.req?.method === 'HEAD' ? undefined : buf);
}

function lowerKeys(h: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
}

export function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string | number> = {},
): void {
  send(res, status, { 'content-type': 'application/json', ...headers }, JSON.stringify(value));
}

/** Declared Content-Length, or null when absent (chunked). */
export function contentLength(req: IncomingMessage): number | null {
  const v = req.headers['content-length'];
  if (v === undefined) return null;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new RegistryError('SIZE_INVALID', 'invalid Content-Length');
  return n;
}

const DRAIN_LIMIT = 64 << 20;

/** Read a body into memory, refusing more than `limit` bytes (413, distribution-spec "Pushing Manifests"). */
export async function readBody(req: IncomingMessage, limit: number, what: string): Promise<Buffer> {
  const declared = contentLength(req);
  // Up to DRAIN_LIMIT the rest of the body is read and dropped (Node does that once the answer
  // is sent on a keep-alive connection), so the client reads the 413 instead of a broken pipe;
  // beyond it the connection is closed rather than spend the bandwidth.
  const drain = declared === null || declared <= DRAIN_LIMIT;
  const tooLarge = () =>
    new RegistryError(
      'MANIFEST_INVALID',
      `${what} exceeds the ${limit} byte limit`,
      { limit },
      413,
      drain ? {} : { connection: 'close' },
    );
  if (declared !== null && declared > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req.iterator({ destroyOnReturn: false })) {
    total += (chunk as Buffer).length;
    if (total > limit) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Drain and discard a request body we have no use for. */
export function discardBody(req: IncomingMessage): void {
  if (!req.complete) req.resume();
}

/**
 * Parse a single `Range: bytes=...` request header against a blob of `size` bytes
 * (RFC 9110 §14.1.2). Returns null to mean "serve the whole blob" (absent, not bytes,
 * several ranges, or syntactically invalid — which RFC 9110 §14.2 says to ignore), or
 * 'unsatisfiable' (416).
 */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    // suffix range: the last N bytes
    const n = Number(m[2]);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return null; // invalid: ignore
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

/** `Range: 0-<end>` for an upload holding `size` bytes (distribution-spec "Pushing a blob in chunks"). */
export function uploadRange(size: number): string {
  return `0-${Math.max(0, size - 1)}`;
}
