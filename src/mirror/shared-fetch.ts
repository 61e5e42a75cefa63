/**
 * One fetch of one blob from a remote, shared by every client that asks for it meanwhile.
 *
 * The remote's bytes go three ways at once: into the sha256 (or sha512) being computed, into
 * an upload session of the storage (what becomes the cached blob), and into a spool file on
 * local disk that clients read from, each at its own pace from its own offset. So the first
 * client gets bytes as they arrive (no waiting for the whole layer), a client joining later
 * starts from byte 0 of the same fetch, and a slow or vanished client never slows the fetch
 * or the others. The last byte is held back from clients until the digest has been checked,
 * so nobody receives a complete-looking body that is wrong.
 *
 * The upload session is committed (published as the blob, linked into the repository) only
 * when the digest matches; on any failure it is deleted, so a half or wrong blob is never
 * visible. A client that hangs up does not stop the fetch: the blob is still cached whole.
 */
import { createHash } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { ParsedDigest } from '../oci/digest.js';

export interface FetchTarget {
  /** Where the blob goes: an upload session of this repository, committed under `digest`. */
  beginUpload(): Promise<{ id: string }>;
  appendUpload(id: string, data: Readable): Promise<unknown>;
  commit(id: string): Promise<void>;
  discard(id: string): Promise<void>;
}

const CHUNK = 1 << 20;
/** Writes queue up to this much before the fetch waits for the spool file (not after every network read). */
const SPOOL_BUFFER = 4 << 20;

export class SharedFetch extends EventEmitter {
  state: 'running' | 'done' | 'failed' = 'running';
  error?: Error;
  /** Bytes safely in the spool file. */
  written = 0;
  size: number | null = null;
  private readers = 0;
  private spoolGone = false;
  private readonly spoolPath: string;
  /** Resolves when the remote answered with the body (size known), rejects when it did not. */
  readonly ready: Promise<void>;
  readonly settled: Promise<void>;

  constructor(
    readonly digest: ParsedDigest,
    spoolDir: string,
    start: () => Promise<IncomingMessage>,
    private readonly target: FetchTarget,
    private readonly onBytes: (n: number) => void,
  ) {
    super();
    this.setMaxListeners(0);
    this.spoolPath = join(spoolDir, `mirror-${digest.hex.slice(0, 16)}-${randomUUID()}`);
    let readyResolve!: () => void;
    let readyReject!: (e: Error) => void;
    this.ready = new Promise((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    this.ready.catch(() => {}); // observed through `settled` as well
    this.settled = this.run(start, readyResolve, readyReject);
  }

  /** A stream of bytes [start, end] of the blob, fed from the spool as the fetch progresses. */
  reader(start = 0, end = Number.POSITIVE_INFINITY): Readable {
    this.readers++;
    return new SpoolReader(this, this.spoolPath, start, end, () => {
      this.readers--;
      this.maybeRemoveSpool();
    });
  }

  /** How far clients may read: everything once verified, all but the last byte until then. */
  readable(): number {
    return this.state === 'done' ? this.written : Math.max(0, this.written - 1);
  }

  private async run(
    start: () => Promise<IncomingMessage>,
    readyResolve: () => void,
    readyReject: (e: Error) => void,
  ): Promise<void> {
    let uploadId: string | undefined;
    let spool: ReturnType<typeof createWriteStream> | undefined;
    let pass: PassThrough | undefined;
    try {
      const body = await start();
      const declared = body.headers['content-length'];
      this.size = declared !== undefined && /^\d+$/.test(declared) ? Number(declared) : null;
      spool = createWriteStream(this.spoolPath, { flags: 'wx', highWaterMark: SPOOL_BUFFER });
      await once(spool, 'open');
      const upload = await this.target.beginUpload();
      uploadId = upload.id;
      pass = new PassThrough({ highWaterMark: CHUNK });
      const appended = this.target.appendUpload(uploadId, pass);
      // If the storage fails, stop waiting for it to drain.
      const storageFailed = appended.then(
        () => new Promise<never>(() => {}),
        (e: Error) => Promise.reject(e),
      );
      storageFailed.catch(() => {});
      readyResolve();
      const hash = createHash(this.digest.algorithm);
      let received = 0;
      for await (const c of body) {
        const chunk = c as Buffer;
        hash.update(chunk);
        received += chunk.length;
        this.onBytes(chunk.length);
        const okSpool = spool.write(chunk, (err) => {
          if (err) return;
          this.written += chunk.length;
          this.emit('progress');
        });
        const okPass = pass.write(chunk);
        if (!okSpool) await Promise.race([once(spool, 'drain'), storageFailed]);
        if (!okPass) await Promise.race([once(pass, 'drain'), storageFailed]);
      }
      // The remote's fault, not an option's: the fetch fails, nothing is stored, and each waiting
      // pull is cut off so its client retries (it must not receive a wrong or short blob).
      if (this.size !== null && received !== this.size)
        throw new Error(`the remote sent ${received} of ${this.size} bytes`);
      spool.end();
      pass.end();
      await Promise.all([finished(spool), appended]);
      const actual = hash.digest('hex');
      if (actual !== this.digest.hex)
        throw new Error(
          `the remote sent bytes whose digest is ${this.digest.algorithm}:${actual}, not ${this.digest.digest}`,
        );
      await this.target.commit(uploadId);
      uploadId = undefined;
      this.state = 'done';
    } catch (e) {
      readyReject(e as Error);
      this.state = 'failed';
      this.error = e as Error;
      spool?.destroy();
      pass?.destroy();
      if (uploadId) await this.target.discard(uploadId).catch(() => {});
    } finally {
      this.emit('progress');
      this.maybeRemoveSpool();
    }
  }

  private maybeRemoveSpool(): void {
    if (this.state === 'running' || this.readers > 0 || this.spoolGone) return;
    this.spoolGone = true;
    unlink(this.spoolPath).catch(() => {});
  }
}

class SpoolReader extends Readable {
  private fh?: FileHandle;
  private pos: number;

  constructor(
    private readonly fetch: SharedFetch,
    private readonly path: string,
    start: number,
    private readonly end: number,
    private readonly onClose: () => void,
  ) {
    super({ highWaterMark: CHUNK });
    this.pos = start;
  }

  override _construct(cb: (e?: Error | null) => void): void {
    open(this.path, 'r').then(
      (fh) => {
        this.fh = fh;
        cb();
      },
      (e: Error) => cb(e),
    );
  }

  override _read(n: number): void {
    this.pump(n).catch((e: Error) => this.destroy(e));
  }

  private async pump(n: number): Promise<void> {
    for (;;) {
      if (this.destroyed) return;
      const f = this.fetch;
      if (this.pos > this.end || (f.state === 'done' && this.pos >= f.written)) {
        this.push(null);
        return;
      }
      if (f.state === 'failed') throw new Error(`mirror fetch of ${f.digest.digest} failed: ${f.error?.message}`);
      const limit = Math.min(f.readable(), this.end + 1);
      if (this.pos < limit) {
        const want = Math.min(n || CHUNK, CHUNK, limit - this.pos);
        const buf = Buffer.allocUnsafe(want);
        const { bytesRead } = await this.fh!.read(buf, 0, want, this.pos);
        this.pos += bytesRead;
        this.push(bytesRead === want ? buf : buf.subarray(0, bytesRead));
        return;
      }
      await once(f, 'progress');
    }
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    const fh = this.fh;
    this.fh = undefined;
    const done = () => {
      this.onClose();
      cb(err);
    };
    if (fh) fh.close().then(done, done);
    else done();
  }
}
