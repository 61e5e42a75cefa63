/**
 * The registry error wire format, shared by the gateway and the embedded core.
 *
 * OCI distribution-spec, "Error Codes": errors are `{"errors":[{"code","message","detail"}]}`
 * with `Content-Type: application/json`. Every response also carries
 * `Docker-Distribution-Api-Version: registry/2.0`: docker login treats a 401 without it as
 * "invalid registry endpoint" (distribution#1135, harbor PR #10868).
 */
import type { ServerResponse } from 'node:http';

export const API_VERSION_HEADER = 'docker-distribution-api-version';
export const API_VERSION = 'registry/2.0';

/** Wire code → default HTTP status, from the spec's table plus the gateway's own conditions. */
export const ERROR_STATUS = {
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 404,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  TAG_INVALID: 400,
  RANGE_INVALID: 416,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429,
  PAGINATION_NUMBER_INVALID: 400,
  NOT_FOUND: 404,
  UNAVAILABLE: 503,
  BAD_GATEWAY: 502,
  GATEWAY_TIMEOUT: 504,
  INTERNAL: 500,
  BAD_REQUEST: 400,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class RegistryError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly detail?: unknown,
    readonly status: number = ERROR_STATUS[code],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function errorBody(code: ErrorCode, message: string, detail?: unknown): string {
  return JSON.stringify({ errors: [{ code, message, detail: detail ?? null }] });
}

/**
 * Write a registry JSON error. Safe to call when headers were already sent (then the
 * connection is cut instead, so a client never mistakes a truncated body for a whole one).
 */
export function sendError(
  res: ServerResponse,
  code: ErrorCode,
  message: string,
  detail?: unknown,
  opts: { status?: number; headers?: Record<string, string | string[]> } = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = errorBody(code, message, detail);
  const status = opts.status ?? ERROR_STATUS[code];
  res.statusCode = status;
  for (const [k, v] of Object.entries(opts.headers ?? {})) res.setHeader(k, v);
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.setHeader(API_VERSION_HEADER, API_VERSION);
  res.end(res.req?.method === 'HEAD' ? undefined : body);
}

export function sendRegistryError(res: ServerResponse, err: RegistryError): void {
  sendError(res, err.code, err.message, err.detail, { status: err.status, headers: err.headers });
}
