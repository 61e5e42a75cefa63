/**
 * Parse an htpasswd file into users and their hashes, the way nginx `auth_basic_user_file`
 * and Apache `AuthUserFile` read it (docs/pitfalls.md: "htpasswd formats"): bcrypt ($2y$/$2a$/$2b$), apr1 MD5,
 * {SHA}, traditional crypt, and plain text only when explicitly allowed.
 *
 * registry:2 accepts bcrypt only and silently ignores other entries ("Entries with other
 * hash types are ignored", distribution configuration.md), which is why files made with
 * `htpasswd` without `-B` "don't work" there (docker.labs PR #148). Here every line that is
 * not understood is reported with its line number, never with its content (it holds a hash).
 */

export type HashKind = 'bcrypt' | 'apr1' | 'sha' | 'crypt' | 'plain';

export interface HtpasswdEntry {
  kind: HashKind;
  hash: string;
  line: number;
}

export interface HtpasswdProblem {
  line: number;
  message: string;
}

export interface ParsedHtpasswd {
  users: Map<string, HtpasswdEntry>;
  problems: HtpasswdProblem[];
}

// Modular crypt bcrypt: $2a$/$2b$/$2y$, two-digit cost, 22 salt + 31 hash chars of bcrypt base64.
const BCRYPT = /^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$/;
const APR1 = /^\$apr1\$[./0-9A-Za-z]{1,8}\$[./0-9A-Za-z]{22}$/;
const SHA = /^\{SHA\}[A-Za-z0-9+/]{27}=$/;
const CRYPT = /^[./0-9A-Za-z]{13}$/;
// Other modular-crypt schemes ($1$, $5$, $6$, $y$ ...) that Apache does not write and we
// cannot verify: reporting them beats treating "$6$..." as a plain-text password.
const UNSUPPORTED_MODULAR = /^\$[0-9a-z]+\$/;

export function classifyHash(hash: string, allowPlain: boolean): HashKind | { error: string } {
  if (hash.startsWith('$2')) return BCRYPT.test(hash) ? 'bcrypt' : { error: 'malformed bcrypt hash' };
  if (hash.startsWith('$apr1$')) return APR1.test(hash) ? 'apr1' : { error: 'malformed $apr1$ hash' };
  if (hash.startsWith('{SHA}')) return SHA.test(hash) ? 'sha' : { error: 'malformed {SHA} hash' };
  if (UNSUPPORTED_MODULAR.test(hash)) {
    return { error: `unsupported hash scheme ${hash.slice(0, hash.indexOf('$', 1) + 1)} (use bcrypt: htpasswd -B)` };
  }
  // A 13-character [./0-9A-Za-z] string is read as DES crypt, as Apache does; a plain-text
  // password of exactly that shape is therefore never accepted as plain.
  if (CRYPT.test(hash)) return 'crypt';
  if (allowPlain) return 'plain';
  return { error: 'not a recognised hash (plain-text passwords need --htpasswd-allow-plain)' };
}

export function parseHtpasswd(text: string, opts: { allowPlain: boolean }): ParsedHtpasswd {
  const users = new Map<string, HtpasswdEntry>();
  const problems: HtpasswdProblem[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    // Files edited on Windows end lines with \r\n; trailing blanks are never part of a hash.
    const line = lines[i]!.replace(/[\r\t ]+$/, '');
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon === -1) {
      problems.push({ line: lineNo, message: 'expected "user:hash"' });
      continue;
    }
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    if (user === '') {
      problems.push({ line: lineNo, message: 'empty user name' });
      continue;
    }
    if (hash === '') {
      problems.push({ line: lineNo, message: `user "${user}" has an empty hash` });
      continue;
    }
    const kind = classifyHash(hash, opts.allowPlain);
    if (typeof kind !== 'string') {
      problems.push({ line: lineNo, message: `user "${user}": ${kind.error}` });
      continue;
    }
    const first = users.get(user);
    if (first) {
      // Apache's mod_authn_file and nginx both stop at the first matching line.
      problems.push({
        line: lineNo,
        message: `user "${user}" already defined on line ${first.line}; this line is ignored`,
      });
      continue;
    }
    users.set(user, { kind, hash, line: lineNo });
  }
  return { users, problems };
}

/** Users whose hash is weak enough to warn about at start-up (docs/pitfalls.md: "htpasswd formats"). */
export function weakUsers(users: Map<string, HtpasswdEntry>): Partial<Record<HashKind, string[]>> {
  const out: Partial<Record<HashKind, string[]>> = {};
  for (const [user, e] of users) {
    if (e.kind === 'crypt' || e.kind === 'plain' || e.kind === 'sha') {
      out[e.kind] ??= [];
      out[e.kind]!.push(user);
    }
  }
  return out;
}
