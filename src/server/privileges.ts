/** Drop root after binding privileged ports: the gateway should not run as root. */
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
