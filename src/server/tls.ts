/**
 * TLS material: operator-supplied PEM files, or a self-signed certificate generated once for
 * the listen hosts and kept beside the storage so restarts keep the same fingerprint.
 */
import { readFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import { join, resolve } from 'node:path';
import { isIP } from 'node:net';
import type { SecureVersion } from 'node:tls';
import { ConfigError } from '../config/load.js';

export interface TlsMaterial {
  cert: string;
  key: string;
  certPath: string;
  fingerprint: string;
}

/**
 * Modern AEAD suites only, in the server's order of preference (honorCipherOrder), AES-128-GCM
 * first for TLS 1.3 as for TLS 1.2. That is Mozilla's "intermediate" server order and what Go's
 * TLS stack (docker, skopeo, podman, registry:2 itself) prefers. Node's own TLS 1.3 order puts
 * AES-256-GCM first, and with the server's order honoured every client got it: about 0.1 s more
 * CPU per GB on each side of every transfer here (bench/README.md, "TLS suite order"). AES-128-GCM
 * has no known weakness, and TLS_AES_128_GCM_SHA256 is the one suite RFC 8446 requires of every
 * TLS 1.3 implementation. A client that offers only AES-256 still gets it.
 */
export const CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export function readTlsFiles(certPath: string, keyPath: string): TlsMaterial {
  let cert: string;
  let key: string;
  try {
    cert = readFileSync(certPath, 'utf8');
  } catch (e) {
    throw new ConfigError('tlsCert', `cannot read ${certPath}: ${(e as NodeJS.ErrnoException).code}`);
  }
  try {
    key = readFileSync(keyPath, 'utf8');
  } catch (e) {
    throw new ConfigError('tlsKey', `cannot read ${keyPath}: ${(e as NodeJS.ErrnoException).code}`);
  }
  let fingerprint: string;
  try {
    fingerprint = new X509Certificate(cert).fingerprint256;
  } catch (e) {
    throw new ConfigError('tlsCert', `${certPath} is not a PEM certificate: ${(e as Error).message}`);
  }
  try {
    createSecureContext({ cert, key });
  } catch (e) {
    throw new ConfigError(
      'tlsKey',
      `${keyPath} does not match ${certPath} or is not a PEM key: ${(e as Error).message}`,
    );
  }
  return { cert, key, certPath: resolve(certPath), fingerprint };
}

export async function selfSigned(dir: string, hosts: string[]): Promise<TlsMaterial> {
  mkdirSync(dir, { recursive: true });
  const certPath = join(dir, 'self-signed.crt');
  const keyPath = join(dir, 'self-signed.key');
  const names = [...new Set(['localhost', '127.0.0.1', '::1', ...hosts.filter((h) => h !== '0.0.0.0' && h !== '::')])];
  if (existsSync(certPath) && existsSync(keyPath)) {
    const existing = readTlsFiles(certPath, keyPath);
    const x = new X509Certificate(existing.cert);
    const stillValid = new Date(x.validTo).getTime() > Date.now() + 86_400_000;
    if (stillValid && names.every((n) => (isIP(n) ? x.checkIP(n) : x.checkHost(n)))) return existing;
  }
  // node-forge is large: loaded only when a certificate has to be made.
  const { generate } = await import('selfsigned');
  const pems = await generate([{ name: 'commonName', value: names.find((n) => !isIP(n)) ?? 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 825 * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: names.map((n) => (isIP(n) ? { type: 7, ip: n } : { type: 2, value: n })) },
    ],
  } as Parameters<typeof import('selfsigned').generate>[1]);
  writeFileSync(keyPath, pems.private, { mode: 0o600 });
  writeFileSync(certPath, pems.cert);
  return readTlsFiles(certPath, keyPath);
}

export function secureContextOptions(m: TlsMaterial, minVersion: string) {
  return {
    cert: m.cert,
    key: m.key,
    minVersion: minVersion as SecureVersion,
    ciphers: CIPHERS,
    honorCipherOrder: true,
  };
}

export function buildSecureContext(m: TlsMaterial, minVersion: string): SecureContext {
  return createSecureContext(secureContextOptions(m, minVersion));
}
