/**
 * `portcullis gc [--storage DIR|s3://BUCKET/PREFIX] [--s3-endpoint URL] [--dry-run] [--grace-period 1h]`: sweep blobs and manifests
 * of the embedded registry that no tag (or referrer of a tagged manifest) reaches. Safe to
 * run while portcullis serves the same storage: nothing younger than the grace period goes.
 */
import type { CommandModule } from 'yargs';
import { collectGarbage, type GcResult } from '../registry/gc.js';
import { InvalidValue } from '../oci/invalid-value.js';
import { OptionError } from '../startup-error.js';
import { isS3Url, openStorage, parseS3Url, StorageUnusable } from '../registry/index.js';
import { RepositoryStore } from '../registry/repository.js';
import { parseMirrors, parseSize } from '../mirror/mirror-config.js';
import { measureAndEvict } from '../mirror/eviction.js';

interface Args {
  storage: string;
  's3-endpoint'?: string;
  's3-region'?: string;
  's3-force-path-style'?: boolean;
  's3-checksum-mode'?: string;
  'dry-run': boolean;
  dryRun?: boolean;
  'grace-period': string;
  gracePeriod?: string;
  mirror: string[];
  'mirror-max-size'?: string;
}

/** "90s", "30m", "1h", "2d", "500ms" or a bare number of seconds → milliseconds. */
/** A value error of one flag, named as the rest of the command line names it (exit 2). */
function asOption<T>(option: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof InvalidValue) throw new OptionError(option, e.message);
    throw e;
  }
}

export function parseDuration(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(value.trim());
  if (!m) throw new OptionError('gracePeriod', `invalid duration ${JSON.stringify(value)} (use e.g. 90s, 30m, 1h, 2d)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    (m[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd'
  ];
  return Math.round(Number(m[1]) * unit);
}

export function formatSummary(r: GcResult, dryRun: boolean): string {
  const mib = (r.bytesFreed / (1 << 20)).toFixed(1);
  const verb = dryRun ? 'would delete' : 'deleted';
  return `gc${dryRun ? ' (dry run)' : ''}: ${verb} ${r.blobsDeleted} blobs (${mib} MiB) and ${r.manifestsDeleted} manifests; kept ${r.kept} blobs`;
}

export const gcCommand: CommandModule<object, Args> = {
  command: 'gc',
  describe: 'delete blobs and manifests of the embedded registry that no tag reaches',
  builder: (y) =>
    y
      .option('storage', {
        type: 'string',
        default: process.env.PORTCULLIS_STORAGE ?? './data',
        describe: 'storage of the embedded registry: a directory or s3://BUCKET/PREFIX',
      })
      .option('s3-endpoint', {
        type: 'string',
        default: process.env.PORTCULLIS_S3_ENDPOINT,
        describe: 'S3-compatible endpoint URL (path-style then)',
      })
      .option('s3-region', { type: 'string', default: process.env.PORTCULLIS_S3_REGION, describe: 'S3 region' })
      .option('s3-force-path-style', { type: 'boolean', describe: 'path-style bucket addressing' })
      .option('s3-checksum-mode', {
        type: 'string',
        choices: ['WHEN_REQUIRED', 'WHEN_SUPPORTED'],
        default: process.env.PORTCULLIS_S3_CHECKSUM_MODE,
        describe: 'when to send request checksums',
      })
      .option('dry-run', { type: 'boolean', default: false, describe: 'report what would be deleted, delete nothing' })
      .option('grace-period', {
        type: 'string',
        default: '1h',
        describe: 'never delete anything younger than this (in-flight pushes)',
      })
      .option('mirror', {
        type: 'string',
        array: true,
        default: process.env.PORTCULLIS_MIRROR ? process.env.PORTCULLIS_MIRROR.split(',') : [],
        describe: 'PREFIX=URL of a pull-through mirror (repeatable), as given to serve',
      })
      .option('mirror-max-size', {
        type: 'string',
        default: process.env.PORTCULLIS_MIRROR_MAX_SIZE,
        describe: 'evict the least recently pulled mirrored images until the mirrors hold at most this (e.g. 20GiB)',
      })
      .example('$0 gc --dry-run', 'show what would be reclaimed') as never,
  handler: async (argv) => {
    try {
      const dryRun = Boolean(argv['dry-run'] ?? argv.dryRun);
      const gracePeriodMs = asOption('gracePeriod', () =>
        parseDuration(String(argv['grace-period'] ?? argv.gracePeriod ?? '1h')),
      );
      if (isS3Url(argv.storage)) asOption('storage', () => parseS3Url(argv.storage));
      const s3 = {
        endpoint: argv['s3-endpoint'],
        region: argv['s3-region'],
        forcePathStyle: argv['s3-force-path-style'],
        checksumMode: argv['s3-checksum-mode'] as 'WHEN_REQUIRED' | 'WHEN_SUPPORTED' | undefined,
      };
      const maxSize = argv['mirror-max-size'];
      if (maxSize !== undefined) {
        const mirrors = asOption('mirror', () => parseMirrors((argv.mirror ?? []).map(String)));
        const maxBytes = asOption('mirrorMaxSize', () => parseSize(maxSize));
        if (!mirrors.length) throw new OptionError('mirrorMaxSize', 'needs the --mirror PREFIX=URL of each mirror');
        const storage = await openStorage(argv.storage, s3);
        try {
          const r = await measureAndEvict(storage, new RepositoryStore(storage), {
            prefixes: mirrors.map((m) => m.prefix),
            maxBytes,
            dryRun,
          });
          const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
          const mib = (n: number) => (n / (1 << 20)).toFixed(1);
          process.stdout.write(
            `mirror eviction${dryRun ? ' (dry run)' : ''}: cache ${mib(sum(r.before))} MiB -> ${mib(sum(r.after))} MiB (budget ${mib(maxBytes)} MiB); ${r.manifestsEvicted} manifests and ${r.blobsDeleted} blobs evicted\n`,
          );
        } finally {
          (storage as { destroy?: () => void }).destroy?.();
        }
      }
      const result = await collectGarbage({ storage: argv.storage, s3, dryRun, gracePeriodMs });
      process.stdout.write(`${formatSummary(result, dryRun)}\n`);
    } catch (e) {
      process.stderr.write(`portcullis gc: ${(e as Error).message}\n`);
      // A wrong option is a usage error (2), like everywhere else on the command line.
      process.exitCode = e instanceof OptionError || e instanceof StorageUnusable ? 2 : 1;
    }
  },
};
