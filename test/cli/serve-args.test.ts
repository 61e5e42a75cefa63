/**
 * The fast path that starts the server without loading yargs (src/cli/serve-args.ts) must read
 * every argument list it answers for exactly as the yargs command line does, and leave the rest
 * (wrong flags and values, other spellings) to yargs so its one-line messages stay the same.
 */
import t from 'tap';
import fc from 'fast-check';
import { OPTIONS, flagName, type OptionSpec } from '../../src/config/options.js';
import { parseServeArgs } from '../../src/cli/serve-args.js';
import { runCli } from '../../src/cli/yargs-cli.js';
import { givenFlags } from '../../src/cli/serve.js';

/** What the yargs command line hands to serve for `args`, or the one line it fails with. */
async function byYargs(args: string[]): Promise<{ flags?: Record<string, unknown>; error?: string }> {
  let flags: Record<string, unknown> | undefined;
  try {
    await runCli(args, {
      serve: (argv) => {
        flags = givenFlags(argv);
      },
      fail: (message) => {
        throw new Error(message);
      },
    });
  } catch (e) {
    return { error: (e as Error).message };
  }
  return { flags };
}

/** JSON with sorted keys: the order flags were read in does not matter. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort()) : x,
  );
}

const ENTRIES = Object.entries(OPTIONS) as [string, OptionSpec][];
const word = fc.stringMatching(/^[a-z0-9][a-z0-9:./_]{0,11}$/);

/** One flag as a user would type it: mostly plain, sometimes odd (repeated, negated, camelCase, bad value). */
const flagArgs: fc.Arbitrary<string[]> = fc
  .tuple(
    fc.constantFrom(...ENTRIES),
    fc.constantFrom(
      'plain',
      'plain',
      'plain',
      'plain',
      'plain',
      'plain',
      'equals',
      'equals',
      'twice',
      'negated',
      'camel',
      'odd-value',
    ),
    word,
    fc.nat({ max: 99_999 }),
  )
  .map(([[name, spec], style, w, n]) => {
    const flag = `--${style === 'camel' ? name : flagName(name)}`;
    const value =
      style === 'odd-value'
        ? fc.sample(fc.constantFrom('-1', 'abc', '0x10', '', 'yes', 'TLSv1.1', '1e3'), 1)[0]!
        : spec.choices
          ? spec.choices[n % spec.choices.length]!
          : spec.type === 'number'
            ? String(n)
            : spec.type === 'duration'
              ? `${n % 300}s`
              : w;
    if (style === 'negated') return [`--no-${flagName(name)}`];
    if (spec.type === 'boolean') {
      if (style === 'equals') return [`${flag}=${n % 2 ? 'true' : 'false'}`];
      if (style === 'odd-value') return [flag, value];
      return style === 'twice' ? [flag, flag] : [flag];
    }
    if (style === 'equals') return [`${flag}=${value}`];
    if (style === 'twice') return [flag, value, flag, value];
    return [flag, value];
  });

const argLists = fc
  .tuple(fc.boolean(), fc.array(flagArgs, { maxLength: 5 }), fc.option(word, { nil: undefined, freq: 5 }))
  .map(([serve, flags, stray]) => [...(serve ? ['serve'] : []), ...flags.flat(), ...(stray ? [stray] : [])]);

t.test('wherever the fast path answers, yargs reads the same flags', async (t) => {
  let answered = 0;
  const differ: string[] = [];
  await fc.assert(
    fc.asyncProperty(argLists, async (args) => {
      const fast = parseServeArgs(args);
      if (fast === undefined) return;
      answered++;
      const slow = await byYargs(args);
      if (canonical(slow) !== canonical({ flags: fast }))
        differ.push(`portcullis ${args.join(' ')}: fast ${JSON.stringify(fast)}, yargs ${JSON.stringify(slow)}`);
    }),
    { numRuns: 400 },
  );
  t.same(differ, [], 'no argument list read differently');
  t.ok(answered > 20, `the fast path answered ${answered} of 400 argument lists`);
});

t.test('what a service file or a worker runs takes the fast path', async (t) => {
  const args = [
    '--listen',
    '0.0.0.0:443',
    '--listen',
    '127.0.0.1:5000',
    '--upstream',
    'http://127.0.0.1:5000',
    '--tls-cert',
    'cert.pem',
    '--tls-key=key.pem',
    '--htpasswd',
    'users',
    '--workers',
    '2',
    '--brute-force-max',
    '10',
    '--log-level',
    'warn',
    '--idle-timeout',
    '15m',
    '--access-log',
    'off',
  ];
  const expected = {
    listen: ['0.0.0.0:443', '127.0.0.1:5000'],
    upstream: ['http://127.0.0.1:5000'],
    tlsCert: 'cert.pem',
    tlsKey: 'key.pem',
    htpasswd: 'users',
    workers: '2',
    bruteForceMax: 10,
    logLevel: 'warn',
    idleTimeout: '15m',
    accessLog: 'off',
  };
  t.strictSame(parseServeArgs(args), expected);
  t.strictSame(parseServeArgs(['serve', ...args]), expected);
  t.strictSame(await byYargs(args), { flags: expected }, 'as yargs reads them');
  t.same(parseServeArgs([]), {}, 'no arguments: the defaults');
});

t.test('wrong or unusual argument lists are left to yargs', async (t) => {
  for (const args of [
    ['--help'],
    ['--version'],
    ['--brute-force-max', 'ten'],
    ['--brute-force-max', '-1'],
    ['--log-level', 'loud'],
    ['--lisen', '0.0.0.0:443'],
    ['--no-tls-redirect'],
    ['--tlsCert', 'cert.pem'],
    ['--htpasswd'],
    ['--realm', 'a', '--realm', 'b'],
    ['gc', '--storage', 'x'],
    ['--upstream', 'http://a', 'http://b'],
  ])
    t.equal(parseServeArgs(args), undefined, args.join(' '));
});
