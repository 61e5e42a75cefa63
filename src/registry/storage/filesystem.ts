/**
 * Filesystem storage driver.
 *
 *   <root>/blobs/<alg>/<first two hex>/<hex>     content-addressed blobs (layers, configs, manifests)
 *   <root>/uploads/<uuid>/{data,info.json}       upload sessions (survive restarts, shared by processes)
 *   <root>/meta/<key>                            small documents: tags, revisions, links, referrers
 *   <root>/tmp/                                  temp files, renamed into place (same filesystem)
 *
 * Every publish is write-to-temp, fsync, rename, fsync(dir): a kill -9 at any moment leaves
 * either the old state or the new one, never a partial file under a final name.
 */
import { createReadStream } from 'node:fs';
import {
  mkdir,
  open,
  readFile,
  readdir,
  rename,
  rm,
  stat,
  unlink,
  utimes,
  writeFile,
  access,
  constants,
} from 'node:fs/promises';
import { randomBytes, randomUUID } from 'node:crypto';
import { join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseDigest, type Algorithm } from '../../oci/digest.js';
import { UPLOAD_ID } from '../../oci/names.js';
import { SortedDirCache } from './sorted-dir-cache.js';
import type { BlobStat, Storage, UploadInfo } from './types.js';
import { FileAppender } from './file-appender.js';
import { FileBlocks } from './file-blocks.js';

export class UploadOffsetError extends Error {
  constructor(readonly size: number) {
    super(`upload is at ${size} bytes`);
  }
}

function isNotFound(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export class FilesystemStorage implements Storage {
  readonly root: string;
  private readonly sortedDirs = new SortedDirCache();

  constructor(root: string) {
    this.root = resolve(root);
  }

  /**
   * Join validated path segments below the root; anything that could escape it throws. Names,
   * digests and upload ids were checked by the route grammar and getUpload() before they get
   * here, so these throws guard the code (a 500 if one fires), not the input.
   */
  private path(...parts: string[]): string {
    for (const p of parts) {
      for (const seg of p.split('/')) {
        if (seg === '' || seg === '.' || seg === '..' || seg.includes('\\') || seg.includes('\0')) {
          throw new Error(`unsafe storage path segment ${JSON.stringify(seg)}`);
        }
      }
    }
    const full = resolve(this.root, ...parts);
    if (!full.startsWith(this.root + sep)) throw new Error('storage path escapes the root');
    return full;
  }

  private blobPath(digest: string): string {
    const d = parseDigest(digest);
    if (!d) throw new Error(`not a digest: ${digest}`);
    return this.path('blobs', d.algorithm, d.hex.slice(0, 2), d.hex);
  }

  private uploadDir(id: string): string {
    if (!UPLOAD_ID.test(id)) throw new Error('bad upload id');
    return this.path('uploads', id);
  }

  private async tempFile(): Promise<string> {
    const dir = this.path('tmp');
    await mkdir(dir, { recursive: true });
    return join(dir, `${Date.now()}-${randomBytes(8).toString('hex')}`);
  }

  /** Write `data` durably to `target` via temp file + fsync + rename + fsync(dir). */
  private async atomicWrite(target: string, data: Buffer | string): Promise<void> {
    const tmp = await this.tempFile();
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    const dir = resolve(target, '..');
    await mkdir(dir, { recursive: true });
    try {
      await rename(tmp, target);
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw e;
    }
    await syncDir(dir);
  }

  // --- blobs -------------------------------------------------------------------------------

  async statBlob(digest: string): Promise<BlobStat | null> {
    try {
      const s = await stat(this.blobPath(digest));
      return { size: s.size, mtimeMs: s.mtimeMs };
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  readBlob(digest: string, range?: { start: number; end: number }): Readable {
    return new FileBlocks(this.blobPath(digest), range);
  }

  async readBlobBuffer(digest: string): Promise<Buffer | null> {
    try {
      return await readFile(this.blobPath(digest));
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async putBlob(digest: string, data: Buffer): Promise<void> {
    const target = this.blobPath(digest);
    if (await this.statBlob(digest)) return this.touchBlob(digest);
    await this.atomicWrite(target, data);
  }

  async touchBlob(digest: string): Promise<void> {
    const now = new Date();
    await utimes(this.blobPath(digest), now, now).catch((e) => {
      if (!isNotFound(e)) throw e;
    });
  }

  async deleteBlob(digest: string): Promise<boolean> {
    try {
      await unlink(this.blobPath(digest));
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  async *listBlobs(): AsyncIterable<{ digest: string; algorithm: Algorithm } & BlobStat> {
    for (const algorithm of ['sha256', 'sha512'] as Algorithm[]) {
      for (const prefix of await readdirSafe(this.path('blobs', algorithm))) {
        for (const hex of await readdirSafe(this.path('blobs', algorithm, prefix))) {
          const digest = `${algorithm}:${hex}`;
          if (!parseDigest(digest)) continue;
          const s = await this.statBlob(digest);
          if (s) yield { digest, algorithm, ...s };
        }
      }
    }
  }

  // --- uploads -----------------------------------------------------------------------------

  async createUpload(repository: string): Promise<UploadInfo> {
    const info: UploadInfo = { id: randomUUID(), repository, startedAt: new Date().toISOString() };
    const dir = this.uploadDir(info.id);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'data'), '');
    // info.json last and atomically: a session exists once its info is readable.
    await this.atomicWrite(join(dir, 'info.json'), JSON.stringify(info));
    return info;
  }

  async getUpload(id: string): Promise<(UploadInfo & { size: number; mtimeMs: number }) | null> {
    if (!UPLOAD_ID.test(id)) return null;
    const dir = this.uploadDir(id);
    try {
      const info = JSON.parse(await readFile(join(dir, 'info.json'), 'utf8')) as UploadInfo;
      const s = await stat(join(dir, 'data'));
      return { ...info, id, size: s.size, mtimeMs: s.mtimeMs };
    } catch (e) {
      if (isNotFound(e) || e instanceof SyntaxError) return null;
      throw e;
    }
  }

  async appendUpload(id: string, offset: number, data: Readable): Promise<number> {
    const file = join(this.uploadDir(id), 'data');
    const s = await stat(file);
    if (s.size !== offset) throw new UploadOffsetError(s.size);
    // Write at the explicit offset (not O_APPEND) so the data lands where the range check said.
    const fh = await open(file, 'r+');
    try {
      const recycle = (data as { recycle?: (chunk: Buffer) => void }).recycle?.bind(data);
      await pipeline(data, new FileAppender(fh, offset, recycle));
    } finally {
      await fh.close();
    }
    return (await stat(file)).size;
  }

  async truncateUpload(id: string, size: number): Promise<void> {
    const fh = await open(join(this.uploadDir(id), 'data'), 'r+');
    try {
      await fh.truncate(size);
    } finally {
      await fh.close();
    }
  }

  readUpload(id: string): Readable {
    return createReadStream(join(this.uploadDir(id), 'data'), { highWaterMark: 1 << 20 });
  }

  async commitUpload(id: string, digest: string): Promise<void> {
    const dir = this.uploadDir(id);
    const data = join(dir, 'data');
    const target = this.blobPath(digest);
    const fh = await open(data, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    const targetDir = resolve(target, '..');
    await mkdir(targetDir, { recursive: true });
    // Rename over an existing blob is fine: same digest, same bytes (two clients pushing the
    // same blob at once both succeed; POSIX rename is atomic for readers).
    await rename(data, target);
    await syncDir(targetDir);
    await rm(dir, { recursive: true, force: true });
  }

  async deleteUpload(id: string): Promise<boolean> {
    if (!UPLOAD_ID.test(id)) return false;
    const dir = this.uploadDir(id);
    try {
      await stat(dir);
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
    await rm(dir, { recursive: true, force: true });
    return true;
  }

  async listUploads(): Promise<string[]> {
    return (await readdirSafe(this.path('uploads'))).filter((n) => UPLOAD_ID.test(n));
  }

  // --- metadata ----------------------------------------------------------------------------

  async readMeta(key: string): Promise<Buffer | null> {
    try {
      return await readFile(this.path('meta', key));
    } catch (e) {
      if (isNotFound(e) || (e as NodeJS.ErrnoException).code === 'EISDIR') return null;
      throw e;
    }
  }

  async statMeta(key: string): Promise<{ mtimeMs: number } | null> {
    try {
      const s = await stat(this.path('meta', key));
      return { mtimeMs: s.mtimeMs };
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async writeMeta(key: string, data: Buffer | string): Promise<void> {
    await this.atomicWrite(this.path('meta', key), data);
  }

  /**
   * An empty file cannot be torn, so a marker needs no temporary file and rename: it is created
   * in place, and one fsync per directory at the end makes the new entries durable together
   * (instead of two fsyncs per entry, which made indexing a large old store take minutes).
   */
  async createEmptyMeta(keys: string[]): Promise<void> {
    const dirs = new Set<string>();
    for (let i = 0; i < keys.length; i += 32) {
      await Promise.all(
        keys.slice(i, i + 32).map(async (key) => {
          const target = this.path('meta', key);
          const dir = resolve(target, '..');
          if (!dirs.has(dir)) {
            await mkdir(dir, { recursive: true });
            dirs.add(dir);
          }
          await (await open(target, 'a')).close();
        }),
      );
    }
    for (const dir of dirs) await syncDir(dir);
  }

  async deleteMeta(key: string): Promise<boolean> {
    try {
      await unlink(this.path('meta', key));
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  async listMeta(prefix: string): Promise<string[]> {
    return readdirSafe(this.path('meta', prefix));
  }

  async listMetaPage(
    prefix: string,
    after: string | undefined,
    limit: number,
  ): Promise<{ names: string[]; more: boolean }> {
    return this.sortedDirs.page(this.path('meta', prefix), after, limit);
  }

  async deleteMetaTree(prefix: string): Promise<void> {
    await rm(this.path('meta', prefix), { recursive: true, force: true });
  }

  /** Remove temp files left by a crash mid-write (older than `cutoffMs`, an epoch time). */
  async cleanTemp(cutoffMs: number, dryRun = false): Promise<number> {
    let n = 0;
    for (const name of await readdirSafe(this.path('tmp'))) {
      const file = this.path('tmp', name);
      const s = await stat(file).catch(() => null);
      if (!s || s.mtimeMs > cutoffMs) continue;
      n++;
      if (!dryRun) await unlink(file).catch(() => {});
    }
    return n;
  }

  async check(writable: boolean): Promise<{ ok: boolean; detail: string }> {
    try {
      await mkdir(this.root, { recursive: true });
      await access(this.root, writable ? constants.R_OK | constants.W_OK : constants.R_OK);
      return { ok: true, detail: `filesystem storage at ${this.root}` };
    } catch (e) {
      return { ok: false, detail: `filesystem storage at ${this.root}: ${(e as Error).message}` };
    }
  }
}

async function readdirSafe(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    if (isNotFound(e)) return [];
    throw e;
  }
}

/** fsync a directory so a rename into it survives a crash (best effort: not every FS allows it). */
async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    /* not supported here */
  }
}
