/**
 * Call back when a file changes: fs.watch on its directory (editors and `htpasswd` replace
 * files by rename, which a watch on the file itself would miss) plus mtime polling as the
 * fallback for filesystems where fs.watch says nothing (NFS, some container bind mounts).
 * registry:2 re-parses its htpasswd file when the mtime changes (registry/auth/htpasswd/access.go).
 */
import { watch, watchFile, unwatchFile, type FSWatcher, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

export interface FileWatcher {
  close(): void;
}

export interface FileWatchOptions {
  pollMs?: number;
  debounceMs?: number;
  /** false: polling only (tests of the fallback). */
  fsWatch?: boolean;
}

/** Identity of a file version: a change in any of these means "re-read". */
export function fileVersion(s: Pick<Stats, 'mtimeMs' | 'size' | 'ino'>): string {
  return `${s.mtimeMs}:${s.size}:${s.ino}`;
}

export function watchForChanges(file: string, onChange: () => void, opts: FileWatchOptions = {}): FileWatcher {
  const debounceMs = opts.debounceMs ?? 100;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const fire = (): void => {
    if (closed) return;
    clearTimeout(timer);
    // Writers often truncate then write: wait for the burst of events to settle.
    timer = setTimeout(() => {
      if (!closed) onChange();
    }, debounceMs);
    timer.unref();
  };

  let watcher: FSWatcher | undefined;
  if (opts.fsWatch !== false) {
    try {
      const name = basename(file);
      watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
        if (changed === null || changed === name) fire();
      });
      watcher.on('error', () => undefined); // polling still covers us
    } catch {
      watcher = undefined;
    }
  }

  const listener = (cur: Stats, prev: Stats): void => {
    if (cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size || cur.ino !== prev.ino) fire();
  };
  watchFile(file, { persistent: false, interval: opts.pollMs ?? 2000 }, listener);

  return {
    close() {
      closed = true;
      clearTimeout(timer);
      watcher?.close();
      unwatchFile(file, listener);
    },
  };
}

export async function currentVersion(file: string): Promise<string | undefined> {
  try {
    return fileVersion(await stat(file));
  } catch {
    return undefined;
  }
}
