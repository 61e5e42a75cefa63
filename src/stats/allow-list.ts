/**
 * Who may read the stats endpoints (`--stats-allow`): a list of CIDRs checked against the
 * client address. Built on node:net's BlockList so prefix matching is the runtime's, not ours.
 *
 * A dual-stack listener reports IPv4 clients as IPv4-mapped IPv6 (`::ffff:127.0.0.1`);
 * those are checked as the IPv4 address they are, so `127.0.0.0/8` also admits them.
 */
import { BlockList, isIP } from 'node:net';
import { OptionError } from '../startup-error.js';

export const DEFAULT_ALLOW = ['127.0.0.0/8', '::1/128'];

export interface AllowList {
  allows(ip: string): boolean;
}

const MAPPED_V4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

/** Parse CIDRs (a bare address means a single host). Throws on anything else, naming the entry. */
export function createAllowList(cidrs: readonly string[]): AllowList {
  const list = new BlockList();
  for (const entry of cidrs) {
    const [addr, prefixText, extra] = entry.trim().split('/');
    const family = isIP(addr ?? '');
    if (!family || extra !== undefined)
      throw new OptionError('statsAllow', `"${entry}" is not an address or CIDR such as 10.0.0.0/8`);
    const max = family === 4 ? 32 : 128;
    const prefix = prefixText === undefined ? max : Number(prefixText);
    if (
      !Number.isInteger(prefix) ||
      prefix < 0 ||
      prefix > max ||
      (prefixText !== undefined && !/^\d+$/.test(prefixText))
    ) {
      throw new OptionError('statsAllow', `"${entry}": prefix must be 0..${max}`);
    }
    list.addSubnet(addr!, prefix, family === 4 ? 'ipv4' : 'ipv6');
  }
  return {
    allows(ip: string): boolean {
      const mapped = MAPPED_V4.exec(ip);
      const addr = mapped ? mapped[1]! : ip;
      const family = isIP(addr);
      if (!family) return false;
      return list.check(addr, family === 4 ? 'ipv4' : 'ipv6');
    },
  };
}
