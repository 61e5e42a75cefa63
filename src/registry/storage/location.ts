/** Which driver a --storage value names, decided without loading any driver. */
import { InvalidValue } from '../../oci/invalid-value.js';
export function isS3Url(storage: string): boolean {
  return storage.startsWith('s3://');
}

export interface S3Location {
  bucket: string;
  prefix: string;
}

export function parseS3Url(url: string): S3Location {
  const m = /^s3:\/\/([^/?#]+)(?:\/([^?#]*))?$/.exec(url);
  if (!m) throw new InvalidValue(`not an s3://BUCKET/PREFIX location: ${url}`);
  const bucket = m[1]!;
  if (!/^[a-zA-Z0-9][a-zA-Z0-9._-]{2,254}$/.test(bucket)) throw new InvalidValue(`invalid bucket name "${bucket}"`);
  const parts = (m[2] ?? '').split('/').filter((p) => p !== '');
  for (const p of parts) if (p === '.' || p === '..') throw new InvalidValue(`invalid prefix segment "${p}"`);
  return { bucket, prefix: parts.length ? `${parts.join('/')}/` : '' };
}
