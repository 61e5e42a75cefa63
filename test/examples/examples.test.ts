/**
 * Every example in examples/ parses and names only real options: flags in command lines,
 * PORTCULLIS_* variables, and keys of config files (the recipes must not rot).
 */
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { OPTIONS, flagName, envName } from '../../src/config/options.js';
import { loadConfig } from '../../src/config/load.js';
import { ROOT } from '../helpers/processes.js';

const EXAMPLES = join(ROOT, 'examples');
const FLAGS = new Set(
  Object.keys(OPTIONS).flatMap((n) => [
    `--${flagName(n)}`,
    ...(OPTIONS[n as keyof typeof OPTIONS].type === 'boolean' ? [`--no-${flagName(n)}`] : []),
  ]),
);
const ENVS = new Set(Object.keys(OPTIONS).map(envName));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]));
}

function checkArgs(t: { ok: (v: unknown, m: string) => void }, where: string, args: string[]): void {
  for (const a of args) if (a.startsWith('--')) t.ok(FLAGS.has(a.split('=')[0]!), `${where}: ${a} is a real flag`);
}

/** Walk a YAML document for `command:`/`args:` lists and `environment:`/`env:` maps. */
function walk(node: unknown, visit: (key: string, value: unknown) => void): void {
  if (Array.isArray(node)) for (const n of node) walk(n, visit);
  else if (node && typeof node === 'object')
    for (const [k, v] of Object.entries(node)) {
      visit(k, v);
      walk(v, visit);
    }
}

const all = files(EXAMPLES);
t.ok(all.length >= 8, 'examples exist');

for (const file of all.filter((f) => /\.ya?ml$/.test(f))) {
  const name = relative(ROOT, file);
  t.test(name, async (t) => {
    const docs = parseAllDocuments(readFileSync(file, 'utf8'));
    for (const d of docs) t.same(d.errors, [], 'parses');
    const values = docs.map((d) => d.toJS());
    const isConfig =
      /examples\/(seeds|systemd)\//.test(file) || (name.endsWith('portcullis.yaml') && !name.includes('kubernetes'));
    if (isConfig) {
      // A portcullis config file: every key must be an option (loadConfig refuses unknown keys).
      t.doesNotThrow(() => loadConfig({ flags: { config: file }, env: {} }), 'a valid portcullis config file');
      return;
    }
    let mentions = 0;
    for (const v of values)
      walk(v, (key, value) => {
        if ((key === 'command' || key === 'args') && Array.isArray(value)) {
          mentions++;
          checkArgs(t, name, value.map(String));
        }
        if ((key === 'environment' || key === 'env') && value && typeof value === 'object' && !Array.isArray(value)) {
          for (const k of Object.keys(value))
            if (k.startsWith('PORTCULLIS_')) {
              mentions++;
              t.ok(ENVS.has(k), `${name}: ${k} is a real variable`);
            }
        }
      });
    if (!/monitoring\//.test(file)) t.ok(mentions > 0 || /registry2|monitoring/.test(file), 'configures portcullis');
  });
}

t.test('systemd unit: ExecStart names real flags and binds 443 without root', async (t) => {
  const unit = readFileSync(join(EXAMPLES, 'systemd', 'portcullis.service'), 'utf8');
  const exec = /^ExecStart=(.*)$/m.exec(unit)![1]!.split(/\s+/);
  checkArgs(t, 'portcullis.service', exec);
  t.match(unit, /AmbientCapabilities=CAP_NET_BIND_SERVICE/);
  t.match(unit, /^User=(?!root)/m);
  t.match(unit, /ExecReload=.*-HUP/);
});

t.test('Dockerfile: multi-stage, non-root, healthcheck on /_ping, real env names, copies what exists', async (t) => {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  t.ok((text.match(/^FROM /gm) ?? []).length >= 2, 'multi-stage');
  t.match(text, /^USER (?!root)\S+/m, 'runs as a non-root user');
  t.match(text, /^HEALTHCHECK .*\/_ping/m, 'healthcheck on /_ping');
  t.match(text, /^VOLUME .*\/data/m, 'a volume for data');
  for (const [, name] of text.matchAll(/\b(PORTCULLIS_[A-Z_]+)=/g)) t.ok(ENVS.has(name!), `${name} is a real variable`);
  for (const [, src] of text.matchAll(/^COPY (?!--from)(\S+)/gm)) {
    for (const f of src!.split(/\s+/))
      t.ok(statSync(join(ROOT, f), { throwIfNoEntry: false }), `COPY source ${f} exists`);
  }
  // Node flags (such as the young-generation size) may come between node and the script.
  const entry = /ENTRYPOINT \["node", (?:"--[a-z-]+=\w+", )*"\/app\/(dist\/bin\/portcullis\.js)"\]/.exec(text);
  t.ok(entry, 'the entry point is the compiled CLI');
});
