/**
 * Imports run downward. Each directory of src/ has a layer; a file may import from its own
 * directory and from lower layers, never from a higher one or a sibling (the gateway and the
 * backends it calls are the one pair that share a layer). And the registry core, with the
 * vocabulary under it, type-checks on its own: copied without src/gateway, src/auth and
 * src/stats, it still builds.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import t from 'tap';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const SRC = join(ROOT, 'src');

/** Lower numbers sit below higher ones. */
const LAYER: Record<string, number> = {
  'version.js': 0,
  'startup-error.js': 0,
  'yaml-text.js': 0,
  web: 0,
  oci: 0,
  registry: 1,
  policy: 1,
  auth: 1,
  stats: 1,
  ui: 1,
  mirror: 2,
  config: 3,
  backends: 4,
  retention: 4,
  gateway: 4,
  server: 5,
  cli: 6,
};
/** Siblings allowed to know each other: the gateway hands a request context to a backend. */
const SIBLINGS = new Set(['backends>gateway', 'gateway>backends']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Relative specifiers of static imports, re-exports and dynamic imports. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)'(\.[^']+)'/g)) out.push(m[1] as string);
  return out;
}

function area(file: string): string {
  return relative(SRC, file).split('/')[0] as string;
}

function upwardImports(): string[] {
  const found: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const from = area(file);
    for (const spec of importsOf(file)) {
      const target = resolve(dirname(file), spec);
      const to = relative(SRC, target).startsWith('..') ? '(outside src)' : area(target);
      if (to === from) continue;
      const ok =
        LAYER[from] !== undefined &&
        LAYER[to] !== undefined &&
        (LAYER[to] < LAYER[from] || SIBLINGS.has(`${from}>${to}`));
      if (!ok) found.push(`${relative(ROOT, file)} imports ${spec} (${from} → ${to})`);
    }
  }
  return found;
}

t.test('every directory of src/ has a layer', async (t) => {
  const areas = readdirSync(SRC).map((n) => n.replace(/\.ts$/, '.js'));
  t.same(
    areas.filter((a) => LAYER[a] === undefined),
    [],
    'a new directory needs a place in LAYER',
  );
});

t.test('no import runs upward or sideways', async (t) => {
  t.same(upwardImports(), []);
});

t.test('the registry core builds without the gateway, auth and stats', async (t) => {
  const dir = mkdtempSync(join(ROOT, 'dist', 'core-only-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const part of ['oci', 'registry']) cpSync(join(SRC, part), join(dir, 'src', part), { recursive: true });
  const base = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')) as { compilerOptions: object };
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { ...base.compilerOptions, noEmit: true }, include: ['src/**/*.ts'] }),
  );
  // The compiler's own executable, not its node launcher (which tap's loaders would wrap).
  const exePath = join(ROOT, 'node_modules', 'typescript', 'lib', 'getExePath.js');
  const { default: getExePath } = (await import(pathToFileURL(exePath).href)) as { default: () => string };
  const tsc = spawnSync(getExePath(), ['-p', join(dir, 'tsconfig.json')], { encoding: 'utf8' });
  t.equal(tsc.status, 0, `tsc on src/oci + src/registry alone:\n${tsc.stdout}${tsc.stderr}`);
  t.same(readdirSync(join(dir, 'src')).sort(), ['oci', 'registry'], 'only the core was there');
});
