import { readFileSync } from 'node:fs';
import { PORTCULLIS_BIN } from './processes.js';

/**
 * How the kernel runs the `portcullis` command (dist/bin/portcullis.js): the interpreter named on
 * its `#!` line gets the rest of that line as one argument, then the script's path. With
 * `#!/usr/bin/env -S ...`, env splits that argument, sets the VAR=value words and runs node.
 */
export function launcherCommand(): { cmd: string; args: string[] } {
  const first = readFileSync(PORTCULLIS_BIN, 'utf8').split('\n', 1)[0]!;
  const m = /^#!(\S+)(?:\s+(.*))?$/.exec(first);
  if (!m) throw new Error(`${PORTCULLIS_BIN} has no #! line`);
  return { cmd: m[1]!, args: m[2] ? [m[2], PORTCULLIS_BIN] : [PORTCULLIS_BIN] };
}
