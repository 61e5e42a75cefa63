/**
 * The OCI distribution-spec conformance suite (v1.1.1, the official Go suite, built offline by
 * scripts/build-conformance.sh) against the embedded core, with registry:2 run the same way as
 * the reference: the core must pass every check, including those registry:2 fails.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import {
  execFileP,
  freePort,
  removeDir,
  ROOT,
  startPortcullis,
  startRegistry2,
  tempDir,
} from '../helpers/processes.js';

type Results = Map<string, string>;

const build = await execFileP('bash', [join(ROOT, 'scripts', 'build-conformance.sh')], { timeout: 600_000 });
const suite = build.stdout.trim();

/** Run every workflow of the suite against `url`; returns spec name → passed/failed/skipped. */
async function runSuite(url: string): Promise<{ results: Results; output: string }> {
  const reportDir = await tempDir('oci-conformance-');
  const env = {
    ...process.env,
    OCI_ROOT_URL: url,
    OCI_NAMESPACE: 'conformance/one',
    OCI_CROSSMOUNT_NAMESPACE: 'conformance/two',
    OCI_TEST_PULL: '1',
    OCI_TEST_PUSH: '1',
    OCI_TEST_CONTENT_DISCOVERY: '1',
    OCI_TEST_CONTENT_MANAGEMENT: '1',
    OCI_REPORT_DIR: reportDir,
  };
  // The suite exits non-zero when any check fails: that is a result here, not an error.
  const output = await new Promise<string>((resolve) => {
    execFile(suite, [], { env, timeout: 300_000, maxBuffer: 64 << 20 }, (_err, stdout, stderr) =>
      resolve(`${stdout}${stderr}`),
    );
  });
  const junit = await readFile(join(reportDir, 'junit.xml'), 'utf8');
  await removeDir(reportDir);
  return { results: parseJunit(junit), output };
}

/** Spec names repeat (one setup step per workflow), so the n-th occurrence gets a `#n` suffix. */
function parseJunit(xml: string): Results {
  const results: Results = new Map();
  for (const m of xml.matchAll(/<testcase name="([^"]*)"[^>]*status="([^"]*)"/g)) {
    const name = m[1]!.replace(/&#39;|&quot;|&lt;|&gt;|&amp;/g, (e) => XML_ENTITIES[e]!);
    let key = name;
    for (let n = 2; results.has(key); n++) key = `${name} #${n}`;
    results.set(key, m[2]!);
  }
  return results;
}
const XML_ENTITIES: Record<string, string> = { '&#39;': "'", '&quot;': '"', '&lt;': '<', '&gt;': '>', '&amp;': '&' };

/** The suite's closing summary, without colours: what to read when the core fails a check. */
function summary(output: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes are what is stripped
  const plain = output.replace(/\x1b\[[0-9;]*m/g, '');
  const at = plain.indexOf('Summarizing');
  return at === -1 ? plain.slice(-2000) : plain.slice(at);
}

const failed = (r: Results) => [...r].filter(([, s]) => s === 'failed').map(([name]) => name);

const registry = await startRegistry2();
t.teardown(() => registry.stop());
const storage = await tempDir('portcullis-conformance-');
const port = await freePort();
const core = await startPortcullis(['--listen', `127.0.0.1:${port}`, '--storage', storage, '--delete'], {
  probe: `http://127.0.0.1:${port}/v2/`,
});
t.teardown(async () => {
  await core.stop();
  await removeDir(storage);
});

const reference = await runSuite(registry.url);
const ours = await runSuite(`http://127.0.0.1:${port}`);

t.test('the suite ran every workflow against both registries', async (t) => {
  t.ok(reference.results.size >= 70, `registry:2: ${reference.results.size} specs`);
  t.equal(ours.results.size, reference.results.size, 'the same specs ran against the core');
  t.ok([...reference.results.values()].filter((s) => s === 'passed').length >= 50, 'registry:2 passes most of it');
});

t.test('the core passes every check registry:2 passes', async (t) => {
  for (const [name, status] of reference.results) {
    if (status !== 'passed') continue;
    t.equal(ours.results.get(name), 'passed', name);
  }
});

t.test('the core fails no check of the suite (registry:2 fails some of them)', async (t) => {
  t.same(failed(ours.results), [], summary(ours.output));
  t.comment(`registry:2 fails ${failed(reference.results).length}: ${failed(reference.results).join('; ')}`);
});
