/**
 * The storage a location names: `s3://BUCKET/PREFIX` → the S3 driver (with `s3` options),
 * anything else → a filesystem directory.
 */
import { FilesystemStorage } from './filesystem.js';
import type { S3Storage } from './s3.js';
import type { S3Options } from './s3-client.js';
import { isS3Url } from './location.js';

export async function openStorage(location: string, s3?: S3Options): Promise<FilesystemStorage | S3Storage> {
  if (!isS3Url(location)) return new FilesystemStorage(location);
  // The AWS SDK costs ~30 MiB of memory: loaded only for s3:// storage.
  const { S3Storage } = await import('./s3.js');
  return new S3Storage(location, s3);
}
