/**
 * The live access policy: built from --access (if any) at start-up (failures are fatal and
 * name the flag), rebuilt on file change and SIGHUP (failures keep the previous policy).
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Action } from '../oci/operations.js';
import type { AccessConfig } from './access-file.js';
import { createAccessPolicy, type AccessPolicy } from './access-policy.js';
import { currentVersion, watchForChanges, type FileWatcher, type FileWatchOptions } from './file-watch.js';
import { InvalidValue } from '../oci/invalid-value.js';
import { OptionError } from '../startup-error.js';

/**
 * The access file parsed, with the users its rules name. The parser (and its schema library,
 * several MiB resident) is loaded only when there is an access file to read.
 */
async function readAccessFile(file: string): Promise<{ cfg: AccessConfig; mentioned: Set<string> }> {
  const { parseAccessFile, mentionedUsers } = await import('./access-file.js');
  const cfg = parseAccessFile(await readFile(file, 'utf8'), file);
  return { cfg, mentioned: mentionedUsers(cfg) };
}

export interface AccessStoreOptions {
  file?: string;
  anonymousRead: boolean;
  logger: Logger;
  /** Users known to htpasswd, to warn about rules naming nobody. */
  knownUser?: (user: string) => boolean;
  watch?: FileWatchOptions | false;
}

export class AccessStore implements AccessPolicy {
  private policy: AccessPolicy;
  private version: string | undefined;
  private watcher: FileWatcher | undefined;

  private constructor(private readonly opts: AccessStoreOptions) {
    this.policy = createAccessPolicy(undefined, opts.anonymousRead);
  }

  static async open(opts: AccessStoreOptions): Promise<AccessStore> {
    const store = new AccessStore(opts);
    if (!opts.file) return store;
    const file = opts.file;
    let read: Awaited<ReturnType<typeof readAccessFile>>;
    try {
      store.version = await currentVersion(file);
      read = await readAccessFile(file);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code) throw new OptionError('access', `cannot read ${file}: ${e.code}`);
      if (e instanceof InvalidValue) throw new OptionError('access', e.message);
      throw e;
    }
    store.install(read, 'loaded');
    if (opts.watch !== false) {
      store.watcher = watchForChanges(file, () => void store.reloadIfChanged(), opts.watch ?? {});
    }
    return store;
  }

  allows(user: string | undefined, repository: string, action: Action): boolean {
    return this.policy.allows(user, repository, action);
  }

  allowedActions(user: string | undefined, repository: string, wanted: readonly Action[]): Action[] {
    return this.policy.allowedActions(user, repository, wanted);
  }

  async reload(): Promise<boolean> {
    const file = this.opts.file;
    if (!file) return true;
    const version = await currentVersion(file);
    try {
      this.install(await readAccessFile(file), 'reloaded');
      this.version = version;
      return true;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      this.opts.logger.error(
        { file, err: e.code ?? e.message },
        `access file reload failed, keeping the previous rules: ${e.code ?? e.message}`,
      );
      return false;
    }
  }

  close(): void {
    this.watcher?.close();
  }

  private async reloadIfChanged(): Promise<void> {
    const v = await currentVersion(this.opts.file!);
    if (v === undefined || v === this.version) return;
    await this.reload();
  }

  private install({ cfg, mentioned }: { cfg: AccessConfig; mentioned: Set<string> }, verb: string): void {
    this.policy = createAccessPolicy(cfg, this.opts.anonymousRead);
    const { knownUser, logger, file } = this.opts;
    if (knownUser) {
      const unknown = [...mentioned].filter((u) => !knownUser(u));
      if (unknown.length)
        logger.warn(
          { file, users: unknown },
          `access file names users missing from the htpasswd file: ${unknown.join(', ')}`,
        );
    }
    logger.info({ file, rules: cfg.rules.length, groups: cfg.groups.size }, `access file ${verb}`);
  }
}
