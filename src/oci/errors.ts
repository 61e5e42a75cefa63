/**
 * The error catalogue and the registry error wire format, shared by the gateway and the core.
 *
 * OCI distribution-spec, "Error Codes": errors are `{"errors":[{"code","message","detail"}]}`
 * with `Content-Type: application/json`. Every response also carries
 * `Docker-Distribution-Api-Version: registry/2.0`: docker login treats a 401 without it as
 * "invalid registry endpoint" (distribution#1135, harbor PR #10868).
 */
import type { ServerResponse } from 'node:http';

export const API_VERSION_HEADER = 'docker-distribution-api-version';
export const API_VERSION = 'registry/2.0';

/** Where a code comes from: the OCI distribution spec, docker's registry:2, or portcullis itself. */
export type ErrorOrigin = 'oci' | 'registry:2' | 'portcullis';

export interface ErrorKind {
  /** The HTTP status it is sent with, unless a call site names a more precise one (listed in `alsoStatus`). */
  status: number;
  alsoStatus?: readonly number[];
  origin: ErrorOrigin;
  /** What a client is being told, in one sentence (docs/errors.md repeats it). */
  meaning: string;
}

/**
 * Every error code portcullis sends, in one place. docs/errors.md lists the same codes (a test
 * checks it), and the type below makes any other code a compile error.
 */
export const ERRORS = {
  BLOB_UNKNOWN: { status: 404, origin: 'oci', meaning: 'The blob is not in the repository.' },
  BLOB_UPLOAD_INVALID: {
    status: 400,
    origin: 'oci',
    meaning: 'The upload cannot go on: a chunk out of order, a bad range, or a session already finished.',
  },
  BLOB_UPLOAD_UNKNOWN: {
    status: 404,
    origin: 'oci',
    meaning: 'No such upload session (never started, cancelled, finished or expired).',
  },
  DIGEST_INVALID: {
    status: 400,
    origin: 'oci',
    meaning: 'A digest is malformed, of an unsupported algorithm, or does not match the content sent.',
  },
  MANIFEST_BLOB_UNKNOWN: {
    status: 404,
    origin: 'oci',
    meaning: 'The manifest refers to a blob or manifest the repository does not have; push those first.',
  },
  MANIFEST_INVALID: {
    status: 400,
    alsoStatus: [413],
    origin: 'oci',
    meaning: 'The manifest cannot be parsed or breaks the image spec (413 when it is over the size limit).',
  },
  MANIFEST_UNKNOWN: { status: 404, origin: 'oci', meaning: 'No manifest under that tag or digest.' },
  NAME_INVALID: { status: 400, origin: 'oci', meaning: 'The repository name breaks the spec grammar.' },
  NAME_UNKNOWN: { status: 404, origin: 'oci', meaning: 'The repository does not exist.' },
  SIZE_INVALID: {
    status: 400,
    origin: 'oci',
    meaning: 'Content-Length is malformed, or the bytes received differ from the size declared.',
  },
  UNAUTHORIZED: {
    status: 401,
    origin: 'oci',
    meaning: 'Credentials are missing or wrong; the WWW-Authenticate header says how to log in.',
  },
  DENIED: {
    status: 403,
    origin: 'oci',
    meaning: 'The user is known but the access rules do not allow this action on this repository.',
  },
  UNSUPPORTED: {
    status: 405,
    origin: 'oci',
    meaning:
      'The method is not allowed here (Allow lists the ones that are), the registry is read-only, or deletion is off.',
  },
  TOOMANYREQUESTS: {
    status: 429,
    origin: 'oci',
    meaning: 'Too many failed logins from this address; Retry-After says when to try again.',
  },
  TAG_INVALID: {
    status: 400,
    origin: 'registry:2',
    meaning: 'A manifest PUT or DELETE names a tag that breaks the tag grammar.',
  },
  RANGE_INVALID: {
    status: 416,
    origin: 'registry:2',
    meaning: 'The Range or Content-Range does not fit the blob or the upload so far.',
  },
  PAGINATION_NUMBER_INVALID: {
    status: 400,
    origin: 'registry:2',
    meaning: 'The `n` query parameter is not a usable page size.',
  },
  UNAVAILABLE: {
    status: 503,
    alsoStatus: [507],
    origin: 'registry:2',
    meaning: 'portcullis is shutting down or has no upstream to ask (503), or the storage is full (507); retry later.',
  },
  NOT_FOUND: {
    status: 404,
    origin: 'portcullis',
    meaning:
      'The path is not part of the registry API, or a built-in endpoint is off, or the client is too old for API v2.',
  },
  BAD_GATEWAY: {
    status: 502,
    origin: 'portcullis',
    meaning: 'The upstream registry could not be reached or broke the connection before answering.',
  },
  GATEWAY_TIMEOUT: {
    status: 504,
    origin: 'portcullis',
    meaning: 'The upstream registry sent nothing for --idle-timeout (15 minutes by default).',
  },
  BAD_REQUEST: {
    status: 400,
    origin: 'portcullis',
    meaning: 'The request could not be parsed (malformed HTTP, or a token request body that is not a form).',
  },
  INTERNAL: {
    status: 500,
    origin: 'portcullis',
    meaning: 'A bug in portcullis; the log has the stack, and `detail.requestId` finds it.',
  },
} as const satisfies Record<string, ErrorKind>;

export type ErrorCode = keyof typeof ERRORS;

export class RegistryError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly detail?: unknown,
    readonly status: number = ERRORS[code].status,
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
  const status = opts.status ?? ERRORS[code].status;
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
