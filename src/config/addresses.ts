/** Parsing of listen addresses, upstream URLs and CIDR lists, with errors fit for ConfigError. */
import { BlockList, isIP } from 'node:net';
import { InvalidValue } from '../oci/invalid-value.js';

export interface ListenAddress {
  host: string;
  port: number;
}

export function parseListen(value: string): ListenAddress {
  let host = '127.0.0.1';
  let portText = value;
  const bracket = /^\[([^\]]+)\]:(\d+)$/.exec(value);
  if (bracket) {
    host = bracket[1]!;
    portText = bracket[2]!;
  } else if (value.includes(':')) {
    const i = value.lastIndexOf(':');
    host = value.slice(0, i) || '0.0.0.0';
    portText = value.slice(i + 1);
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 0 || port > 65535) throw new InvalidValue(`"${value}" is not HOST:PORT`);
  if (host === '*') host = '0.0.0.0';
  return { host, port };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host.startsWith('127.') || host === '::1';
}

export function parseUpstream(value: string, allowQuery = false): URL {
  if (!/^https?:\/\//i.test(value)) throw new InvalidValue(`"${value}" must start with http:// or https://`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidValue(`"${value}" is not a URL (expected e.g. http://127.0.0.1:5000)`);
  }
  if ((url.search && !allowQuery) || url.hash) throw new InvalidValue(`"${value}" must not have a query or fragment`);
  return url;
}

/** A BlockList of CIDRs (or single addresses); IPv4 entries also match IPv4-mapped IPv6 peers. */
export function parseCidrs(values: string[]): BlockList {
  const list = new BlockList();
  for (const v of values) {
    const [addr = '', bits] = v.split('/');
    const family = isIP(addr);
    if (!family) throw new InvalidValue(`"${v}" is not an IP address or CIDR`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    const prefix = bits === undefined ? (family === 4 ? 32 : 128) : Number(bits);
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128))
      throw new InvalidValue(`"${v}" has an invalid prefix length`);
    list.addSubnet(addr, prefix, type);
  }
  return list;
}

export function inList(list: BlockList, ip: string): boolean {
  if (ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4) ip = ip.slice(7);
  const family = isIP(ip);
  if (!family) return false;
  return list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}
