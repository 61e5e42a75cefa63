/**
 * A pull's time must be visible from the moment it is noted: to the repository browser, and to
 * a retention run deciding whether a tag was pulled recently. A flush moves the figures from
 * memory into storage; a read that lands while that write is under way, or whose storage read
 * started before the write landed, still sees the pull. The storage is the real filesystem
 * store; only the moment its write lands is held back, to put the read in between.
 */
import t from 'tap';
import { FilesystemStorage } from '../../src/registry/storage/filesystem.js';
import { UsageRecorder } from '../../src/registry/usage/usage-recorder.js';
import { removeDir, tempDir } from '../helpers/processes.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const PULLED_AT = Date.UTC(2026, 0, 2);

/**
 * The real store, with its writes held while `holdWrites` is set and the result of the next
 * read held (read, then kept back) after `holdNextRead()`.
 */
class HeldStorage extends FilesystemStorage {
  private writesHeld = false;
  private nextReadHeld = false;
  private waiting: (() => void)[] = [];
  holdWrites(): void {
    this.writesHeld = true;
  }
  holdNextRead(): void {
    this.nextReadHeld = true;
  }
  release(): void {
    this.writesHeld = false;
    for (const go of this.waiting.splice(0)) go();
  }
  private held(): Promise<void> {
    return new Promise((go) => this.waiting.push(go));
  }
  override async readMeta(key: string): Promise<Buffer | null> {
    const doc = await super.readMeta(key);
    if (this.nextReadHeld) {
      this.nextReadHeld = false;
      await this.held();
    }
    return doc;
  }
  override async writeMeta(key: string, data: Buffer | string): Promise<void> {
    if (this.writesHeld) await this.held();
    return super.writeMeta(key, data);
  }
}

const settle = () => new Promise((r) => setTimeout(r, 50));

t.test('a read while a flush is writing sees the pull', async (t) => {
  const dir = await tempDir('portcullis-usage-flush-');
  t.teardown(() => removeDir(dir));
  const storage = new HeldStorage(dir);
  const usage = new UsageRecorder(storage, { now: () => PULLED_AT, flushIntervalMs: 3_600_000 });
  usage.notePull('app', DIGEST);
  storage.holdWrites();
  const flushing = usage.flush();
  await settle(); // the flush has read the stored document and waits to write it
  t.equal((await usage.read('app')).pulled[DIGEST], PULLED_AT, 'the pull is seen during the write');
  storage.release();
  await flushing;
  t.equal((await usage.read('app')).pulled[DIGEST], PULLED_AT, 'and after it, from storage');
});

t.test('a read whose storage read was done before a flush landed sees the pull', async (t) => {
  const dir = await tempDir('portcullis-usage-flush-');
  t.teardown(() => removeDir(dir));
  const storage = new HeldStorage(dir);
  const usage = new UsageRecorder(storage, { now: () => PULLED_AT, flushIntervalMs: 3_600_000 });
  usage.notePull('app', DIGEST);
  storage.holdNextRead();
  const reading = usage.read('app'); // has read storage (nothing yet) and is held there
  await settle();
  await usage.flush(); // writes the pull and is done: memory no longer holds it
  storage.release();
  t.equal((await reading).pulled[DIGEST], PULLED_AT, 'the pull is seen although the storage read missed it');
});
