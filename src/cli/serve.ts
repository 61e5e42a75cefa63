/**
 * What `portcullis [serve]` does once the flags are parsed (by serve-args.ts or yargs): load and
 * check the configuration (defaults < file < environment < flags), then serve. A wrong value ends
 * the process with one line naming the flag, exit code 2.
 */
import cluster from 'node:cluster';
import { OPTIONS } from '../config/options.js';
import { loadConfig, ConfigError, type Config } from '../config/load.js';
import { resolveConfig } from '../config/resolve.js';
import { createAppLogger } from '../gateway/access-log.js';
import { run } from '../server/run.js';
import { joinGroup } from '../server/cluster-worker.js';
import { VERSION } from '../version.js';
import { OptionError } from '../startup-error.js';

const EXIT_USAGE = 2;

export function fail(message: string): never {
  process.stderr.write(`portcullis: ${message.split('\n')[0]}\n`);
  process.exit(EXIT_USAGE);
}

/** Only the options given on the command line, by camelCase name (yargs adds both spellings). */
export function givenFlags(argv: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(OPTIONS)) if (argv[name] !== undefined) out[name] = argv[name];
  return out;
}

export function load(argv: Record<string, unknown>): { config: Config; sources: Record<string, string> } {
  try {
    return loadConfig({ flags: givenFlags(argv), env: process.env });
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message);
    throw e;
  }
}

export async function runServe(argv: Record<string, unknown>): Promise<void> {
  const { config } = load(argv);
  let resolved: ReturnType<typeof resolveConfig> | undefined;
  try {
    resolved = resolveConfig(config);
  } catch (e) {
    if (e instanceof OptionError) fail(e.message);
    throw e;
  }
  const logger = createAppLogger(config.logLevel);
  if (resolved.workers > 1 && cluster.isPrimary) {
    // This process supervises; each worker runs this same command and takes the branch below.
    // Loaded only here: a single process never needs the group's supervisor or metrics merging.
    const { startPrimary } = await import('../server/cluster-primary.js');
    const group = startPrimary(resolved, logger);
    await group.ready.catch((e: Error & { exitCode?: number }) => {
      logger.fatal(e.message);
      process.exit(e.exitCode ?? 1);
    });
    process.stderr.write(`portcullis ${VERSION}: ${resolved.workers} workers (primary pid ${process.pid})\n`);
    return;
  }
  const group = joinGroup();
  try {
    const running = await run(resolved, logger, group);
    // One banner per group, not one per worker.
    if (group && !group.leader) return;
    const backend = resolved.upstreams.length
      ? `upstream ${resolved.upstreams.map((u) => u.origin).join(', ')}`
      : `embedded registry, storage ${config.storage}`;
    const hostPort = new URL(running.urls[0]!).host;
    process.stderr.write(`portcullis ${VERSION} serving ${running.urls.join(', ')} (${backend})\n`);
    process.stderr.write(`  push:  docker tag IMAGE ${hostPort}/IMAGE && docker push ${hostPort}/IMAGE\n`);
    process.stderr.write(
      `  stats: ${running.urls[0]}${config.dashboardPath}  ${running.urls[0]}${config.statsPath}  ${running.urls[0]}${config.metricsPath}\n`,
    );
  } catch (e) {
    if (e instanceof OptionError) fail(e.message);
    logger.fatal({ err: e }, 'start-up failed');
    process.exit(1);
  }
}
