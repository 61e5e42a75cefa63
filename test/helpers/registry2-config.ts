/**
 * How the tests and the benchmarks run Debian's registry:2 (distribution): one configuration
 * (warnings only, no access log, deletes on, a fixed secret so every instance accepts the
 * others' upload state) with its storage on a directory or an S3 bucket, and the binary's name.
 */
import { hasCommand } from './processes.js';

/** The `storage:` entries for a directory. */
export function filesystemStorage(root: string): string[] {
  return ['  filesystem:', `    rootdirectory: ${root}`];
}

export function registry2Config(o: { port: number; secret: string; storage: string[] }): string {
  return [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    ...o.storage,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${o.port}`,
    `  secret: ${o.secret}`,
  ].join('\n');
}

/** Debian names the binary docker-registry; upstream builds call it registry. */
export function registry2Binary(): string {
  return hasCommand('docker-registry') ? 'docker-registry' : 'registry';
}
