/** An in-process gateway in front of the upstream backend, for proxy behaviour tests. */
import http from 'node:http';
import pino from 'pino';
import { createGateway } from '../../src/gateway/pipeline.js';
import { createUpstreamBackend } from '../../src/backends/upstream.js';
import { createAccessLog } from '../../src/gateway/access-log.js';
import { createListener, listen } from '../../src/server/listeners.js';
import { parseCidrs } from '../../src/config/addresses.js';
import { createUserAgentPolicy } from '../../src/policy/user-agent.js';

export async function startGateway(
  upstreams: string[],
  opts: { idleTimeoutMs?: number; trusted?: string[]; healthIntervalMs?: number } = {},
) {
  const logger = pino({ level: 'silent' });
  const backend = createUpstreamBackend({
    urls: upstreams.map((u) => new URL(u)),
    balance: 'round-robin',
    healthIntervalMs: opts.healthIntervalMs ?? 0,
    idleTimeoutMs: opts.idleTimeoutMs ?? 900_000,
    logger,
  });
  const gateway = createGateway({
    backend,
    logger,
    accessLog: createAccessLog('off', 'json'),
    trustedProxies: parseCidrs(opts.trusted ?? []),
    hsts: false,
    draining: () => false,
    userAgents: createUserAgentPolicy({ extra: [], defaultRule: true }),
  });
  const server = createListener(gateway, {
    tlsMinVersion: 'TLSv1.2',
    headerTimeoutMs: 60_000,
    keepAliveTimeoutMs: 75_000,
    idleTimeoutMs: opts.idleTimeoutMs ?? 900_000,
  });
  await listen(server, { host: '127.0.0.1', port: 0 });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    backend,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await backend.close();
    },
  };
}

/** A fake upstream whose handler the test writes; returns its URL. */
export async function fakeUpstream(handler: http.RequestListener) {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    },
  };
}

export function request(
  url: string,
  opts: http.RequestOptions & { body?: Buffer | string | NodeJS.ReadableStream } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { ...opts, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    const body = opts.body;
    if (body && typeof body === 'object' && 'pipe' in body) (body as NodeJS.ReadableStream).pipe(req);
    else req.end(body as Buffer | string | undefined);
  });
}
