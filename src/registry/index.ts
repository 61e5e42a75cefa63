/**
 * portcullis' embedded OCI Distribution v1.1 registry core. It knows nothing of the gateway
 * (no auth, no TLS): `handle` answers any request under /v2 and the gateway calls it in-process.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino, type Logger } from 'pino';
import { KeyedLock, ManifestCache, UploadHashes, type CoreContext } from './context.js';
import { RepositoryStore } from './repository.js';
import { dispatch } from './routes.js';
import { FilesystemStorage } from './storage/filesystem.js';

export { collectGarbage, type GcOptions, type GcResult } from './gc.js';
export type { Storage } from './storage/types.js';
export { FilesystemStorage } from './storage/filesystem.js';

export interface RegistryCoreOptions {
  /** Root directory of the filesystem storage. */
  storage: string;
  deleteEnabled: boolean;
  readOnly: boolean;
  logger?: Logger;
  /** Advertised as OCI-Chunk-Min-Length on upload sessions when set. */
  uploadChunkMinLength?: number;
}

export interface RegistryCore {
  /** Answers any request whose raw req.url starts with /v2 (including GET /v2/ → 200 `{}`). No auth here. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  health(): Promise<{ healthy: boolean; detail: string }>;
  close(): Promise<void>;
}

export async function createRegistryCore(opts: RegistryCoreOptions): Promise<RegistryCore> {
  const storage = new FilesystemStorage(opts.storage);
  const first = await storage.check(!opts.readOnly);
  if (!first.ok) throw new Error(first.detail);
  const ctx: CoreContext = {
    storage,
    repos: new RepositoryStore(storage),
    logger: opts.logger ?? pino({ level: 'silent' }),
    deleteEnabled: opts.deleteEnabled,
    readOnly: opts.readOnly,
    uploadChunkMinLength: opts.uploadChunkMinLength,
    hashes: new UploadHashes(),
    manifests: new ManifestCache(),
    locks: new KeyedLock(),
  };
  let closed = false;
  return {
    handle: (req, res) => dispatch(ctx, req, res),
    async health() {
      if (closed) return { healthy: false, detail: 'registry core closed' };
      const c = await storage.check(!opts.readOnly);
      return { healthy: c.ok, detail: c.detail };
    },
    async close() {
      closed = true;
      ctx.hashes.clear();
      ctx.manifests.clear();
    },
  };
}
