/**
 * Credentials verified on a keep-alive connection are remembered for that connection only, and
 * never outlive what made them valid: through the gateway build() makes, on one socket each time.
 */
import t from 'tap';
import http from 'node:http';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildFromFlags } from '../helpers/gateway.js';
import { basic, htpasswdTool, tempDirSync } from './fixtures/helpers.js';

interface Answer {
  status: number;
  body: string;
  /** The gateway's count of connections accepted so far. */
  connections: number;
}

async function gatewayWithUsers(t: { teardown(fn: () => unknown): void }, flags: Record<string, unknown> = {}) {
  const dir = tempDirSync(t);
  const file = join(dir, 'users');
  htpasswdTool(file, 'B', 'alice', 'pw-alice', true);
  htpasswdTool(file, 'B', 'bob', 'pw-bob');
  const gateway = await buildFromFlags({ storage: join(dir, 'storage'), htpasswd: file, ...flags });
  const { server, url } = await gateway.listen({ host: '127.0.0.1', port: 0 });
  let connections = 0;
  server.on('connection', () => connections++);
  // One socket per agent, kept alive: every request of an agent goes over the same connection.
  const agents: http.Agent[] = [];
  const connection = () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    return (path: string, authorization?: string): Promise<Answer> =>
      new Promise((resolve, reject) => {
        const req = http.get(`${url}${path}`, { agent, headers: authorization ? { authorization } : {} }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            body += c;
          });
          res.on('end', () => resolve({ status: res.statusCode!, body, connections }));
        });
        req.on('error', reject);
      });
  };
  t.teardown(async () => {
    for (const a of agents) a.destroy();
    await gateway.close(0);
  });
  return { gateway, file, connection, connectionCount: () => connections };
}

t.test('a user removed by a reload is refused on the connection that was already verified', async (t) => {
  const { gateway, file, connection } = await gatewayWithUsers(t);
  const get = connection();
  const alice = basic('alice', 'pw-alice');
  t.equal((await get('/v2/', alice)).status, 200);
  t.equal((await get('/v2/', alice)).status, 200, 'again on the same connection');
  writeFileSync(
    file,
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => !l.startsWith('alice:'))
      .join('\n'),
  );
  await gateway.reload();
  const after = await get('/v2/', alice);
  t.equal(after.status, 401, 'the next request on the same keep-alive connection is refused');
  t.equal(after.connections, 1, 'all three requests came on one connection');
});

t.test('a changed password is checked again on the same connection', async (t) => {
  const { gateway, file, connection } = await gatewayWithUsers(t);
  const get = connection();
  t.equal((await get('/v2/', basic('bob', 'pw-bob'))).status, 200);
  htpasswdTool(file, 'B', 'bob', 'new-pw-bob');
  await gateway.reload();
  t.equal((await get('/v2/', basic('bob', 'pw-bob'))).status, 401, 'the old password no longer opens');
  const now = await get('/v2/', basic('bob', 'new-pw-bob'));
  t.equal(now.status, 200, 'the new one does');
  t.equal(now.connections, 1);
});

t.test("one connection's credentials never serve another request's", async (t) => {
  const { connection, connectionCount } = await gatewayWithUsers(t);
  const first = connection();
  const second = connection();
  t.equal((await first('/v2/', basic('alice', 'pw-alice'))).status, 200);
  t.equal((await second('/v2/')).status, 401, 'another connection without credentials');
  t.equal((await second('/v2/', basic('alice', 'wrong'))).status, 401, 'another connection, wrong password');
  t.equal((await first('/v2/', basic('alice', 'wrong'))).status, 401, 'the same connection, wrong password');
  t.equal((await first('/v2/')).status, 401, 'the same connection, no credentials');
  t.equal((await first('/v2/', basic('bob', 'pw-alice'))).status, 401, "the same connection, alice's password for bob");
  t.equal(connectionCount(), 2);
});

t.test('an expired token is refused on the connection it was used on', async (t) => {
  const { connection } = await gatewayWithUsers(t, { authScheme: 'token', tokenTtl: '1s' });
  const get = connection();
  const issued = await get('/token?service=portcullis&scope=repository:a/b:pull', basic('alice', 'pw-alice'));
  t.equal(issued.status, 200);
  const bearer = `Bearer ${JSON.parse(issued.body).token}`;
  t.equal((await get('/v2/', bearer)).status, 200, 'valid while fresh');
  await sleep(2100);
  const late = await get('/v2/', bearer);
  t.equal(late.status, 401, 'expired: refused on the same connection');
  t.equal(late.connections, 1);
});
