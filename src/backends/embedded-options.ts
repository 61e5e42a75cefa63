/**
 * The embedded core's storage options from the config. Apart from the core itself so that the
 * composition root and the retention hook can compute them without loading the registry core,
 * which a proxying gateway never runs.
 */
import { resolve as resolvePath } from 'node:path';
import type { Config } from '../config/load.js';
import type { RegistryCoreOptions } from '../registry/index.js';
import { isS3Url } from '../registry/storage/location.js';

export type EmbeddedStorageOptions = Pick<RegistryCoreOptions, 'storage' | 's3' | 'redirect' | 'metadataCacheTtlMs'>;

/** The storage part of the core's options from the config: a directory, or s3:// with its client options. */
export function embeddedStorageOptions(c: Config): EmbeddedStorageOptions {
  if (!isS3Url(c.storage)) return { storage: resolvePath(c.storage), metadataCacheTtlMs: c.storageCacheTtl };
  return {
    storage: c.storage,
    s3: {
      endpoint: c.s3Endpoint,
      region: c.s3Region,
      forcePathStyle: c.s3ForcePathStyle,
      checksumMode: c.s3ChecksumMode as 'WHEN_REQUIRED' | 'WHEN_SUPPORTED' | undefined,
    },
    redirect: c.storageRedirect ? { base: c.storageRedirectBase } : undefined,
    metadataCacheTtlMs: c.storageCacheTtl,
  };
}
