/**
 * The fast path of the command line: `portcullis [serve] --flag value ...` with node:util
 * parseArgs, so the server does not load (and keep) the yargs command line it does not need.
 *
 * It returns the flags (camelCase names, values as yargs would hand them over) only when the
 * arguments are plain: every flag known and spelled in kebab case, `--flag value` or
 * `--flag=value`, booleans without a value, a flag that is not a list at most once, numbers in
 * decimal, choices among the allowed ones, no positionals, no --no-flag, --help or --version.
 * Anything else returns undefined and the yargs command line decides, with its own messages,
 * so every wrong or unusual argument list behaves exactly as before.
 * test/cli/serve-args.test.ts checks that both parsers agree wherever this one answers.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { OPTIONS, type OptionSpec, flagName } from '../config/options.js';

type ParseOptions = NonNullable<ParseArgsConfig['options']>;

let parseOptions: ParseOptions | undefined;
const byFlag = new Map<string, [string, OptionSpec]>();

function options(): ParseOptions {
  if (parseOptions) return parseOptions;
  parseOptions = {};
  for (const [name, spec] of Object.entries(OPTIONS) as [string, OptionSpec][]) {
    const flag = flagName(name);
    byFlag.set(flag, [name, spec]);
    parseOptions[flag] =
      spec.type === 'boolean' ? { type: 'boolean', multiple: true } : { type: 'string', multiple: true };
  }
  return parseOptions;
}

const DECIMAL = /^\d+(\.\d+)?$/;

export function parseServeArgs(argv: readonly string[]): Record<string, unknown> | undefined {
  const args = argv[0] === 'serve' ? argv.slice(1) : argv;
  // yargs reads these its own way (negation, option terminator, short flags): leave them to it.
  if (args.some((a) => a.startsWith('--no-') || a === '--' || /^-[^-]/.test(a))) return undefined;
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({ args: [...args], options: options(), strict: true, allowPositionals: false }));
  } catch {
    return undefined;
  }
  const flags: Record<string, unknown> = {};
  for (const [flag, raw] of Object.entries(values)) {
    const known = byFlag.get(flag);
    if (!known) return undefined;
    const [name, spec] = known;
    const given = raw as Array<string | boolean>;
    if (spec.type === 'list') {
      flags[name] = given;
      continue;
    }
    // yargs turns a repeated flag into a list and lets the configuration refuse it.
    if (given.length !== 1) return undefined;
    const value = given[0]!;
    if (spec.type === 'boolean') {
      flags[name] = value;
    } else if (spec.type === 'number') {
      if (typeof value !== 'string' || !DECIMAL.test(value)) return undefined;
      flags[name] = Number(value);
    } else {
      if (typeof value !== 'string') return undefined;
      if (spec.choices && !(spec.choices as readonly string[]).includes(value)) return undefined;
      flags[name] = value;
    }
  }
  return flags;
}
