/** The gateway the command line builds (build() from src/server/build.ts), in process, for proxy behaviour tests. */
import http from 'node:http';
import pino from 'pino';
import { loadConfig } from '../../src/config/load.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { build, type BuiltGateway } from '../../src/server/build.js';

/** Build from flags as `portcullis` would get them (camelCase names, values as on the command line). */
export async function buildFromFlags(flags: Record<string, unknown>): Promise<BuiltGateway> {
  const { config } = loadConfig({ flags: { accessLog: 'off', listen: ['127.0.0.1:0'], ...flags }, env: {} });
  return build(resolveConfig(config), pino({ level: 'silent' }));
}

export async function startGateway(
  upstreams: string[],
  opts: { idleTimeoutMs?: number; trusted?: string[]; healthIntervalMs?: number } = {},
) {
  const gateway = await buildFromFlags({
    upstream: upstreams,
    idleTimeout: `${opts.idleTimeoutMs ?? 900_000}ms`,
    trustedProxies: opts.trusted ?? [],
    healthInterval: `${opts.healthIntervalMs ?? 0}ms`,
  });
  const { server, url } = await gateway.listen({ host: '127.0.0.1', port: 0 });
  const port = (server.address() as { port: number }).port;
  return {
    url,
    port,
    server,
    backend: gateway.backend,
    gateway,
    close: () => gateway.close(),
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
