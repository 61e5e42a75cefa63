/**
 * `portcullis htpasswd add|delete|verify FILE USER`: manage the htpasswd file without
 * apache2-utils. New hashes are bcrypt ($2y$, what `htpasswd -B` writes and
 * what registry:2 also reads), cost 10 unless --cost. The password comes from stdin when
 * it is not a terminal (first line), else from a prompt that does not echo.
 */
import { readFile } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import type { CommandModule } from 'yargs';
import bcrypt from 'bcrypt';
import { parseHtpasswd } from '../auth/htpasswd-parse.js';
import { verifyPassword } from '../auth/password-verify.js';
import { deleteUser, setUser, validUserName, writeFileAtomic } from '../auth/htpasswd-file.js';

export type HtpasswdAction = 'add' | 'delete' | 'verify';

export interface HtpasswdIo {
  stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout: Writable;
  stderr: Writable;
}

interface Args {
  action: HtpasswdAction;
  file: string;
  user: string;
  cost: number;
}

export class HtpasswdCommandError extends Error {}

/** Runs one action; resolves to the process exit code (0 ok, 1 failure). */
export async function runHtpasswd(args: Args, io: HtpasswdIo = process): Promise<number> {
  try {
    await run(args, io);
    return 0;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const msg = e instanceof HtpasswdCommandError ? e.message : e.code ? `${args.file}: ${e.code}` : e.message;
    io.stderr.write(`portcullis htpasswd: ${msg}\n`);
    return 1;
  }
}

async function run({ action, file, user, cost }: Args, io: HtpasswdIo): Promise<void> {
  const bad = validUserName(user);
  if (bad) throw new HtpasswdCommandError(bad);
  if (action === 'add') {
    if (!Number.isInteger(cost) || cost < 4 || cost > 17)
      throw new HtpasswdCommandError('--cost must be an integer from 4 to 17');
    const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return '';
      throw e;
    });
    const password = await readPassword(io, `Password for ${user}: `, true);
    if (password === '') throw new HtpasswdCommandError('empty password refused');
    const hash = (await bcrypt.hash(password, cost)).replace(/^\$2b\$/, '$2y$');
    const out = setUser(text, user, hash);
    await writeFileAtomic(file, out.text);
    io.stdout.write(`${out.replaced ? 'Updated' : 'Added'} user ${user} in ${file}\n`);
    return;
  }
  const text = await readFile(file, 'utf8');
  if (action === 'delete') {
    const out = deleteUser(text, user);
    if (!out.deleted) throw new HtpasswdCommandError(`user ${user} not found in ${file}`);
    await writeFileAtomic(file, out.text);
    io.stdout.write(`Deleted user ${user} from ${file}\n`);
    return;
  }
  const entry = parseHtpasswd(text, { allowPlain: true }).users.get(user);
  if (!entry) throw new HtpasswdCommandError(`user ${user} not found in ${file}`);
  const password = await readPassword(io, `Password for ${user}: `, false);
  if (!(await verifyPassword(entry, password)))
    throw new HtpasswdCommandError(`password for user ${user} is not correct`);
  io.stdout.write(`Password for user ${user} correct.\n`);
}

async function readPassword(io: HtpasswdIo, prompt: string, confirm: boolean): Promise<string> {
  if (!io.stdin.isTTY) return firstLine(io.stdin);
  const first = await promptHidden(io, prompt);
  if (confirm && (await promptHidden(io, 'Re-type password: ')) !== first) {
    throw new HtpasswdCommandError('passwords do not match');
  }
  return first;
}

async function firstLine(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    chunks.push(Buffer.from(chunk as Buffer));
    if (chunks.some((c) => c.includes(10))) break;
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const nl = text.indexOf('\n');
  return (nl === -1 ? text : text.slice(0, nl)).replace(/\r$/, '');
}

/** Read a line from a terminal in raw mode, echoing nothing. */
function promptHidden(io: HtpasswdIo, prompt: string): Promise<string> {
  io.stderr.write(prompt);
  const stdin = io.stdin;
  return new Promise((resolve, reject) => {
    let value = '';
    stdin.setRawMode?.(true);
    stdin.resume();
    const done = (err?: Error): void => {
      stdin.off('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      io.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: Buffer | string): void => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          done();
          return;
        }
        if (ch === '\u0003') {
          done(new HtpasswdCommandError('interrupted'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

export const htpasswdCommand: CommandModule<object, Args> = {
  command: 'htpasswd <action> <file> <user>',
  describe: 'add, delete or verify a user in an htpasswd file (bcrypt)',
  builder: (y) =>
    y
      .positional('action', {
        choices: ['add', 'delete', 'verify'] as const,
        demandOption: true,
        describe: 'what to do',
      })
      .positional('file', { type: 'string', demandOption: true, describe: 'htpasswd file (created by add)' })
      .positional('user', { type: 'string', demandOption: true, describe: 'user name' })
      .option('cost', { type: 'number', default: 10, describe: 'bcrypt cost for add (4-17)' })
      .example('$0 htpasswd add users.htpasswd alice', 'prompt for a password')
      .example('printf "%s\\n" "$PW" | $0 htpasswd add users.htpasswd ci', 'password from stdin'),
  handler: async (argv) => {
    process.exitCode = await runHtpasswd({
      action: argv.action,
      file: argv.file,
      user: String(argv.user),
      cost: argv.cost,
    });
  },
};
