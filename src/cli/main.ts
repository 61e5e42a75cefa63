/**
 * The command line: `portcullis [serve]` (default), `htpasswd`, `gc`, `retention`, `check-config`,
 * `config-schema`. Every flag comes from src/config/options.ts; a wrong flag or value ends
 * the process with one line naming it, exit code 2.
 *
 * Starting the server with plain `--flag value` arguments (what service files, containers and
 * the cluster's workers run) is parsed here with node:util; anything else (help, version,
 * subcommands, other spellings, wrong flags) goes to the yargs command line, loaded on demand,
 * so a running server does not keep the CLI parser in memory.
 */
import { parseServeArgs } from './serve-args.js';
import { runServe } from './serve.js';

export async function main(args = process.argv.slice(2)): Promise<void> {
  const flags = parseServeArgs(args);
  if (flags) return runServe(flags);
  const { runCli } = await import('./yargs-cli.js');
  await runCli(args);
}
