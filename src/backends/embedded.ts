/** The embedded backend: the registry core in src/registry, called in-process (no second HTTP hop). */
import type { Logger } from 'pino';
import type { Backend } from './backend.js';
import { createRegistryCore, FilesystemStorage } from '../registry/index.js';
import { RepositoryStore } from '../registry/repository.js';

export async function createEmbeddedBackend(opts: { storage: string; deleteEnabled: boolean; readOnly: boolean; logger: Logger }): Promise<Backend> {
  const core = await createRegistryCore(opts);
  // Read-only view of the same storage for the search index.
  const repos = new RepositoryStore(new FilesystemStorage(opts.storage));
  return {
    kind: 'embedded',
    internalOrigins: new Set(),
    handle: (ctx) => core.handle(ctx.req, ctx.res),
    async health() {
      const h = await core.health();
      return [{ name: `storage ${opts.storage}`, kind: 'storage', healthy: h.healthy, detail: h.detail, failures: h.healthy ? 0 : 1 }];
    },
    listRepositories: () => repos.listRepositories(),
    listTags: (repository) => repos.listTags(repository),
    close: () => core.close(),
  };
}
