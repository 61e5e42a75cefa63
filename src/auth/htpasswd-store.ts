/**
 * The live set of htpasswd users: loaded at start (failures are fatal and name the flag),
 * reloaded on file change and SIGHUP (failures keep the previous users and are logged),
 * and verified through the credential cache, which every successful reload clears.
 */
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { parseHtpasswd, weakUsers, type HtpasswdEntry } from './htpasswd-parse.js';
import { verifyDummy, verifyPassword } from './password-verify.js';
import { CredentialCache } from './credential-cache.js';
import { ConnectionMemo } from './connection-memo.js';
import { currentVersion, watchForChanges, type FileWatcher, type FileWatchOptions } from './file-watch.js';
import { OptionError } from '../startup-error.js';

/** How long a reload waits for a file that is being rewritten in place, and how often it looks. */
const SETTLE_STEP_MS = 50;
const SETTLE_MAX_STEPS = 20;

/**
 * Read the file until two reads SETTLE_STEP_MS apart agree. Apache's htpasswd rewrites the
 * file in place (truncate, then copy from a temporary file), so a reload that lands in between
 * reads an empty or cut file; applied as it is, an empty read would lock every user out until
 * the next reload. Bounded: a file that never settles is taken as last read.
 */
async function readSettled(file: string): Promise<string> {
  let text = await readFile(file, 'utf8');
  for (let i = 0; i < SETTLE_MAX_STEPS; i++) {
    await sleep(SETTLE_STEP_MS);
    const again = await readFile(file, 'utf8');
    if (again === text) return text;
    text = again;
  }
  return text;
}

export interface HtpasswdStoreOptions {
  file: string;
  allowPlain: boolean;
  logger: Logger;
  watch?: FileWatchOptions | false;
}

export class HtpasswdStore {
  private users = new Map<string, HtpasswdEntry>();
  private version: string | undefined;
  private watcher: FileWatcher | undefined;
  readonly cache = new CredentialCache();
  /** Per-connection memo of the last verified header, void after every change of the users. */
  readonly connections = new ConnectionMemo(() => this.cache.generation);
  /** Number of real hash verifications run (tests use it to prove the cache works). */
  verifications = 0;

  private constructor(private readonly opts: HtpasswdStoreOptions) {}

  static async open(opts: HtpasswdStoreOptions): Promise<HtpasswdStore> {
    const store = new HtpasswdStore(opts);
    let text: string;
    try {
      store.version = await currentVersion(opts.file);
      text = await readFile(opts.file, 'utf8');
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new OptionError('htpasswd', `cannot read ${opts.file}: ${why}`);
    }
    store.apply(text, 'loaded');
    if (store.users.size === 0) {
      opts.logger.warn({ file: opts.file }, 'htpasswd file has no usable users: every login will fail');
    }
    if (opts.watch !== false) {
      store.watcher = watchForChanges(opts.file, () => void store.reloadIfChanged(), opts.watch ?? {});
    }
    return store;
  }

  has(user: string): boolean {
    return this.users.has(user);
  }

  get size(): number {
    return this.users.size;
  }

  async verify(user: string, password: string): Promise<boolean> {
    // The Map lookup happens inside the cached verify so that an unknown user also pays
    // the dummy bcrypt, once, like a real one.
    return this.cache.check(user, password, async () => {
      this.verifications++;
      const entry = this.users.get(user);
      if (!entry) return verifyDummy(password);
      return verifyPassword(entry, password);
    });
  }

  /** Re-read the file unconditionally (SIGHUP). Returns false when the old users were kept. */
  async reload(): Promise<boolean> {
    let text: string;
    const version = await currentVersion(this.opts.file);
    try {
      text = await readSettled(this.opts.file);
    } catch (err) {
      this.opts.logger.error(
        { file: this.opts.file, err: (err as NodeJS.ErrnoException).code ?? (err as Error).message },
        'htpasswd reload failed: cannot read file; keeping the previous users',
      );
      return false;
    }
    const ok = this.apply(text, 'reloaded');
    if (ok) this.version = version;
    return ok;
  }

  close(): void {
    this.watcher?.close();
  }

  private async reloadIfChanged(): Promise<void> {
    const v = await currentVersion(this.opts.file);
    if (v === undefined || v === this.version) return;
    await this.reload();
  }

  private apply(text: string, verb: string): boolean {
    const { logger, file } = this.opts;
    const parsed = parseHtpasswd(text, { allowPlain: this.opts.allowPlain });
    for (const p of parsed.problems)
      logger.warn({ file, line: p.line }, `htpasswd line ${p.line} skipped: ${p.message}`);
    // A half-written or wrong file (every line malformed) must not lock everybody out
    // mid-push; an intentionally emptied file (no lines at all) does revoke everyone.
    if (verb === 'reloaded' && parsed.users.size === 0 && parsed.problems.length > 0) {
      logger.error(
        { file, problems: parsed.problems.length },
        'htpasswd reload failed: no valid line; keeping the previous users',
      );
      return false;
    }
    this.users = parsed.users;
    this.cache.clear();
    const weak = weakUsers(parsed.users);
    if (weak.crypt)
      logger.warn(
        { file, users: weak.crypt },
        `htpasswd users with traditional crypt hashes (only the first 8 password characters count; re-create with htpasswd -B): ${weak.crypt.join(', ')}`,
      );
    if (weak.plain)
      logger.warn(
        { file, users: weak.plain },
        `htpasswd users with plain-text passwords (--htpasswd-allow-plain): ${weak.plain.join(', ')}`,
      );
    if (weak.sha)
      logger.warn(
        { file, users: weak.sha },
        `htpasswd users with unsalted {SHA} hashes (re-create with htpasswd -B): ${weak.sha.join(', ')}`,
      );
    logger.info({ file, users: parsed.users.size, skipped: parsed.problems.length }, `htpasswd ${verb}`);
    return true;
  }
}
