/** Every error code portcullis can send is in docs/errors.md, with the status it is sent with. */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { ERRORS, errorBody } from '../../src/oci/errors.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const DOC = readFileSync(resolve(ROOT, 'docs/errors.md'), 'utf8');

/** `| \`CODE\` | 404, 413 | origin | meaning |` rows of the table. */
function documented(): Map<string, { statuses: number[]; origin: string; meaning: string }> {
  const rows = new Map<string, { statuses: number[]; origin: string; meaning: string }>();
  for (const m of DOC.matchAll(/^\| `([A-Z_]+)` \| ([\d, ]+) \| ([^|]+) \| (.+) \|$/gm)) {
    const [, code, statuses, origin, meaning] = m as unknown as [string, string, string, string, string];
    rows.set(code, { statuses: statuses.split(',').map(Number), origin: origin.trim(), meaning: meaning.trim() });
  }
  return rows;
}

t.test('docs/errors.md lists exactly the codes of the catalogue', async (t) => {
  t.same([...documented().keys()].sort(), Object.keys(ERRORS).sort());
});

t.test('each code is documented with its status, origin and meaning', async (t) => {
  const docs = documented();
  for (const [code, kind] of Object.entries(ERRORS)) {
    const row = docs.get(code);
    const also: readonly number[] = 'alsoStatus' in kind ? kind.alsoStatus : [];
    t.same(row?.statuses, [kind.status, ...also], `${code} status`);
    t.equal(row?.origin, kind.origin, `${code} origin`);
    t.equal(row?.meaning, kind.meaning, `${code} meaning`);
  }
});

t.test('the wire format is the registry JSON error', async (t) => {
  t.same(JSON.parse(errorBody('BAD_GATEWAY', 'upstream down')), {
    errors: [{ code: 'BAD_GATEWAY', message: 'upstream down', detail: null }],
  });
});
