/**
 * S3 driver plumbing: the `s3://BUCKET/PREFIX` location, the client (standard AWS credential
 * chain, path-style and WHEN_REQUIRED checksums for custom endpoints) and error helpers that
 * turn SDK failures into one line naming the problem (missing bucket, credentials, endpoint).
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { S3Client } from '@aws-sdk/client-s3';

export interface S3Options {
  /** Custom endpoint (Ceph RGW, MinIO, Swift s3api, ...): path-style addressing then. */
  endpoint?: string;
  /** Default: AWS_REGION / AWS_DEFAULT_REGION, else us-east-1. */
  region?: string;
  /** Default: true with a custom endpoint, false for AWS. */
  forcePathStyle?: boolean;
  /**
   * Default: WHEN_REQUIRED with a custom endpoint (Swift's s3api and others reject aws-chunked
   * streaming payloads that WHEN_SUPPORTED sends), WHEN_SUPPORTED for AWS.
   */
  checksumMode?: 'WHEN_REQUIRED' | 'WHEN_SUPPORTED';
  /** Explicit credentials (tests); otherwise the SDK's default chain (env, profiles, roles). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

export type { S3Location } from './location.js';

/** `s3://BUCKET` or `s3://BUCKET/some/prefix` → bucket and a prefix ending in "/" (or ""). */
export { isS3Url, parseS3Url } from './location.js';

export function createS3Client(opts: S3Options): S3Client {
  // The SDK warns on stderr that it will drop Node 20 in 2027; portcullis' own output stays one line.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const custom = Boolean(opts.endpoint);
  const checksum = opts.checksumMode ?? (custom ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED');
  const agentOpts = { keepAlive: true, maxSockets: 256 };
  return new S3Client({
    endpoint: opts.endpoint,
    region: opts.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    forcePathStyle: opts.forcePathStyle ?? custom,
    credentials: opts.credentials,
    requestChecksumCalculation: checksum,
    responseChecksumValidation: checksum,
    maxAttempts: 3,
    // Connect timeout only: a socket idle timeout would cut slow but live blob streams.
    requestHandler: {
      connectionTimeout: 5_000,
      httpAgent: new HttpAgent(agentOpts),
      httpsAgent: new HttpsAgent(agentOpts),
    },
  });
}

interface SdkError {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  cause?: unknown;
  errors?: unknown[];
}

export function errorName(e: unknown): string {
  const x = e as SdkError;
  return x?.name ?? x?.Code ?? x?.code ?? '';
}

export function httpStatus(e: unknown): number | undefined {
  return (e as SdkError)?.$metadata?.httpStatusCode;
}

/** 404-like: NoSuchKey, NotFound (HEAD), NoSuchUpload. */
export function isNotFound(e: unknown): boolean {
  const n = errorName(e);
  return (
    n === 'NoSuchKey' || n === 'NotFound' || n === 'NoSuchUpload' || (httpStatus(e) === 404 && n !== 'NoSuchBucket')
  );
}

function networkCode(e: unknown): string | undefined {
  const seen = new Set<unknown>();
  let cur: unknown = e;
  while (cur && typeof cur === 'object' && !seen.has(cur)) {
    seen.add(cur);
    const c = (cur as SdkError).code;
    if (c && /^E[A-Z]+/.test(c)) return c;
    const n = (cur as SdkError).name;
    if (n === 'TimeoutError' || n === 'AbortError') return 'timeout';
    cur = (cur as SdkError).cause ?? (cur as SdkError).errors?.[0];
  }
  return undefined;
}

/** One line naming what is wrong with the bucket, the credentials or the endpoint. */
export function describeS3Error(e: unknown, where: { bucket: string; endpoint?: string }): string {
  const n = errorName(e);
  const status = httpStatus(e);
  const endpoint = where.endpoint ?? 'AWS S3';
  const net = networkCode(e);
  if (net && status === undefined) return `S3 endpoint ${endpoint} unreachable (${net})`;
  if (n === 'NoSuchBucket' || (status === 404 && (n === 'NotFound' || n === 'UnknownError')))
    return `S3 bucket "${where.bucket}" does not exist at ${endpoint}`;
  if (n === 'CredentialsProviderError')
    return `no S3 credentials found for ${endpoint} (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile or an instance role)`;
  if (
    n === 'InvalidAccessKeyId' ||
    n === 'SignatureDoesNotMatch' ||
    n === 'InvalidToken' ||
    n === 'ExpiredToken' ||
    /credential/i.test(n)
  ) {
    return `S3 credentials rejected by ${endpoint} (${n})`;
  }
  if (n === 'AccessDenied' || status === 403)
    return `S3 access to bucket "${where.bucket}" denied at ${endpoint} (wrong credentials or missing permissions: ${n || status})`;
  const msg = ((e as SdkError)?.message ?? String(e)).split('\n')[0];
  return `S3 error at ${endpoint} on bucket "${where.bucket}": ${n || 'error'}${status ? ` (HTTP ${status})` : ''}${msg && msg !== n ? `: ${msg}` : ''}`;
}
