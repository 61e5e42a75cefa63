/** Drop root after binding privileged ports: the gateway should not run as root. */
import { chownSync, readdirSync, statSync, type Stats } from 'node:fs';
import { OptionError } from '../startup-error.js';

export function dropPrivileges(user?: string, group?: string): string | undefined {
  if (!user && !group) return undefined;
  if (typeof process.setuid !== 'function' || typeof process.setgid !== 'function')
    throw new OptionError('user', 'needs a POSIX system', '--user/--group need a POSIX system');
  // Group first: once the user is dropped, changing group is no longer permitted.
  if (group) process.setgid(group);
  if (user) {
    process.setuid(user);
  }
  return `uid=${process.getuid!()} gid=${process.getgid!()}`;
}

/**
 * The numeric ids --user/--group name, looked up the way setuid/setgid will look them up:
 * switching the effective ids there and back (root may), so no passwd parsing of our own.
 */
function idsOf(user?: string, group?: string): { uid: number; gid: number } {
  const uid0 = process.geteuid!();
  const gid0 = process.getegid!();
  try {
    if (group) process.setegid!(group);
    if (user) process.seteuid!(user);
    return { uid: user ? process.geteuid!() : -1, gid: group ? process.getegid!() : -1 };
  } finally {
    // User first: changing the group needs root back.
    process.seteuid!(uid0);
    process.setegid!(gid0);
  }
}

/**
 * Before dropping to --user/--group: a storage directory this start created (empty, owned by
 * us) is handed to the user the gateway is about to become, as nginx hands its temp
 * directories to its worker user; otherwise every upload would fail with "permission denied".
 * A directory that already holds data, or belongs to someone else, is left as the operator set it.
 */
export function handOverStorage(dir: string, user?: string, group?: string): boolean {
  if ((!user && !group) || typeof process.geteuid !== 'function' || process.geteuid() !== 0) return false;
  let st: Stats;
  try {
    st = statSync(dir);
    if (!st.isDirectory() || st.uid !== process.geteuid() || readdirSync(dir).length > 0) return false;
  } catch {
    return false;
  }
  const { uid, gid } = idsOf(user, group);
  chownSync(dir, uid, gid);
  return true;
}
