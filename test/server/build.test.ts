/** The composition root's lifecycle: build, listen, close; and a start that fails half-way leaves nothing open. */
import t from 'tap';
import net from 'node:net';
import pino from 'pino';
import { OptionError } from '../../src/startup-error.js';
import { loadConfig } from '../../src/config/load.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { run } from '../../src/server/run.js';
import { buildFromFlags } from '../helpers/gateway.js';
import { freePort, removeDir, tempDir } from '../helpers/processes.js';

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

t.test('build() gives a working gateway; close() closes its listeners and may be called twice', async (t) => {
  const dir = await tempDir();
  t.teardown(() => removeDir(dir));
  const gateway = await buildFromFlags({ storage: dir });
  const { server, url } = await gateway.listen({ host: '127.0.0.1', port: 0 });
  const res = await fetch(`${url}/v2/`);
  t.equal(res.status, 200);
  t.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
  const port = (server.address() as net.AddressInfo).port;
  await gateway.close();
  t.equal(await connects(port), false, 'the listener is closed');
  await gateway.close();
});

t.test('a start that fails on its second address closes the first one', async (t) => {
  const dir = await tempDir();
  t.teardown(() => removeDir(dir));
  const blocker = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => blocker.once('listening', r));
  t.teardown(() => blocker.close());
  const busy = (blocker.address() as net.AddressInfo).port;
  const free = await freePort();
  const { config } = loadConfig({
    flags: { storage: dir, accessLog: 'off', listen: [`127.0.0.1:${free}`, `127.0.0.1:${busy}`] },
    env: {},
  });
  await t.rejects(run(resolveConfig(config), pino({ level: 'silent' })), {
    name: 'OptionError',
    option: 'listen',
    message: new RegExp(`--listen 127\\.0\\.0\\.1:${busy}: EADDRINUSE`),
  });
  t.equal(await connects(free), false, 'the address that did open is closed again');
});

t.test('a component that fails to start is reported with its option', async (t) => {
  const dir = await tempDir();
  t.teardown(() => removeDir(dir));
  const failed = buildFromFlags({ storage: dir, htpasswd: `${dir}/missing.htpasswd` });
  await t.rejects(failed, OptionError);
  await t.rejects(failed, { option: 'htpasswd', message: /cannot read .*missing\.htpasswd/ });
});
