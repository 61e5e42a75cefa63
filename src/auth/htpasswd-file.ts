/**
 * Edit an htpasswd file as text, keeping every line we do not touch (comments, other users,
 * even malformed lines) byte for byte, and write it atomically: a gateway watching the file
 * must never read a half-written version (it would keep the old users, but logs would cry).
 */
import { randomBytes } from 'node:crypto';
import { rename, stat, writeFile, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

function userOf(line: string): string | undefined {
  const colon = line.indexOf(':');
  return colon > 0 ? line.slice(0, colon) : undefined;
}

export function validUserName(user: string): string | undefined {
  if (user === '') return 'user name is empty';
  if (user.includes(':')) return 'user name must not contain ":"';
  if (/[\r\n]/.test(user)) return 'user name must not contain line breaks';
  if (user.length > 255) return 'user name is longer than 255 characters';
  return undefined;
}

/** Replace the user's first line, or append one. Later duplicates are dropped (they are ignored anyway). */
export function setUser(text: string, user: string, hash: string): { text: string; replaced: boolean } {
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  let replaced = false;
  const out: string[] = [];
  for (const line of lines) {
    if (userOf(line.replace(/\r$/, '')) === user) {
      if (!replaced) out.push(`${user}:${hash}`);
      replaced = true;
    } else {
      out.push(line);
    }
  }
  if (!replaced) out.push(`${user}:${hash}`);
  return { text: `${out.join('\n')}\n`, replaced };
}

export function deleteUser(text: string, user: string): { text: string; deleted: boolean } {
  const lines = text.replace(/\n$/, '').split('\n');
  const out = lines.filter((line) => userOf(line.replace(/\r$/, '')) !== user);
  const deleted = out.length !== lines.length;
  return { text: out.length ? `${out.join('\n')}\n` : '', deleted };
}

/** Write via a temporary file in the same directory and rename(2), keeping the old file's mode. */
export async function writeFileAtomic(file: string, text: string, defaultMode = 0o640): Promise<void> {
  let mode = defaultMode;
  try {
    mode = (await stat(file)).mode & 0o7777;
  } catch {
    // new file
  }
  const tmp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, text, { mode, flag: 'wx' });
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}
