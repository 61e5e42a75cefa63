/**
 * Content digests (OCI image-spec "Digests", distribution-spec "Content Digests").
 *
 * Only the registered algorithms are accepted, with their exact encoded lengths, lowercase
 * hex: this is what makes a digest safe to use as a storage path component.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { RegistryError } from './errors.js';

export type Algorithm = 'sha256' | 'sha512';

const ENCODED_LENGTH: Record<Algorithm, number> = { sha256: 64, sha512: 128 };
const DIGEST = /^(sha256|sha512):([a-f0-9]+)$/;

export interface ParsedDigest {
  algorithm: Algorithm;
  hex: string;
  digest: string;
}

/** Parse a digest, or return null when it is not a registered algorithm with a well-formed encoding. */
export function parseDigest(value: string): ParsedDigest | null {
  const m = DIGEST.exec(value);
  if (!m) return null;
  const algorithm = m[1] as Algorithm;
  if (m[2]!.length !== ENCODED_LENGTH[algorithm]) return null;
  return { algorithm, hex: m[2]!, digest: value };
}

export function isDigest(value: string): boolean {
  return parseDigest(value) !== null;
}

/** Parse or throw DIGEST_INVALID (400). */
export function requireDigest(value: string | null | undefined, what = 'digest'): ParsedDigest {
  const d = value ? parseDigest(value) : null;
  if (!d)
    throw new RegistryError('DIGEST_INVALID', `invalid ${what}: only sha256 and sha512 digests are supported`, {
      digest: value ?? null,
    });
  return d;
}

export function digestOf(data: Buffer, algorithm: Algorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

/** A pass-through stream that hashes and counts what flows through it. */
export class HashingStream extends Transform {
  bytes = 0;
  constructor(readonly hash: Hash) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}
