/** Run the `portcullis` command line as an operator would, to its end; what it printed and its exit code. */
import { spawnSync } from 'node:child_process';
import { PORTCULLIS_BIN } from './processes.js';

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [PORTCULLIS_BIN, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, ...env },
    timeout: 20_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
