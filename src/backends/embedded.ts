/** The embedded backend: the registry core in src/registry, called in-process (no second HTTP hop). */
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Backend } from './backend.js';
import type { EmbeddedStorageOptions } from './embedded-options.js';
import { createRegistryCore, isS3Url, StorageUnusable } from '../registry/index.js';
import { OptionError } from '../startup-error.js';
import type { MirrorSpec } from '../mirror/mirror-config.js';
import type { MirrorService } from '../mirror/mirror-service.js';

export interface EmbeddedMirrorOptions {
  mirrors: MirrorSpec[];
  defaultPrefix?: string;
  tagTtlMs: number;
  maxBytes?: number;
}

export { embeddedStorageOptions, type EmbeddedStorageOptions } from './embedded-options.js';

export async function createEmbeddedBackend(
  opts: EmbeddedStorageOptions & {
    deleteEnabled: boolean;
    readOnly: boolean;
    logger: Logger;
    mirror?: EmbeddedMirrorOptions;
  },
): Promise<Backend> {
  const core = await createRegistryCore(opts).catch((e: unknown) => {
    if (e instanceof StorageUnusable)
      throw new OptionError(e.setting === 'redirect' ? 'storageRedirect' : 'storage', e.message);
    throw e;
  });
  let mirrors: MirrorService | undefined;
  if (opts.mirror?.mirrors.length) {
    // Blobs being fetched are spooled beside the storage (its tmp/, which gc cleans after a
    // crash), or in the system temp directory when the storage is a bucket.
    const spoolDir = isS3Url(opts.storage) ? tmpdir() : join(opts.storage, 'tmp');
    await mkdir(spoolDir, { recursive: true });
    // Loaded only here: the mirror service and its remote client are a dozen modules that a
    // server without mirrors never runs, and every module loaded at start stays resident.
    const { MirrorService } = await import('../mirror/mirror-service.js');
    mirrors = new MirrorService(core, { ...opts.mirror, spoolDir, logger: opts.logger });
    mirrors.startMaintenance();
  }
  return {
    kind: 'embedded',
    internalOrigins: new Set(),
    handle: (ctx) => (mirrors ? mirrors.handle(ctx.req, ctx.res, ctx.route) : core.handle(ctx.req, ctx.res, ctx.route)),
    mirrorCounters: mirrors ? () => mirrors.counters() : undefined,
    storageUsage: (topN) => core.storageUsage(topN),
    usage: core.usage ? (repository) => core.usage!.read(repository) : undefined,
    async health() {
      const h = await core.health();
      return [
        {
          name: `storage ${opts.storage}`,
          kind: 'storage',
          healthy: h.healthy,
          detail: h.detail,
          failures: h.healthy ? 0 : 1,
        },
      ];
    },
    searchRepositories: (text, after, limit) => core.repos.search.page(text, after, limit),
    tagsPage: (repository, limit) => core.repos.listTagsPage(repository, undefined, limit),
    close: async () => {
      mirrors?.close();
      await core.close();
    },
  };
}
