/**
 * A stand-in gateway for the stats tests: a plain http(s).Server with stats.attach(), a
 * handler that lets stats.handle() answer its endpoints and otherwise plays a registry
 * (classifies the path like the gateway, reads the body, answers after an optional delay
 * or as a slow stream), then calls stats.record() when the response closes — exactly the
 * calls the real gateway makes.
 *
 * Query parameters steer a response: delay=MS (wait before answering), stream=MS (send
 * the body in 10 pieces over MS), size=BYTES (response body size), status=CODE.
 * Headers: x-test-user (the authenticated user), user-agent (first token = client type).
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { pino } from 'pino';
import { classifyRoute } from '../../src/gateway/route.js';
import { createStats, type RequestRecord, type ServiceHealth, type Stats, type StatsOptions } from '../../src/stats/index.js';

export interface Harness {
  stats: Stats;
  server: http.Server;
  port: number;
  base: string;
  records: RequestRecord[];
  /** Replace what the health callback answers. */
  setHealth(h: ServiceHealth[]): void;
  close(): Promise<void>;
}

export interface HarnessOptions {
  stats?: Partial<StatsOptions>;
  server?: http.ServerOptions;
  tls?: { key: string; cert: string };
  maxConnections?: number;
}

export async function startHarness(o: HarnessOptions = {}): Promise<Harness> {
  let health: ServiceHealth[] = [{ name: 'registry:5000', kind: 'upstream', healthy: true, failures: 0 }];
  const stats = createStats({
    allow: ['127.0.0.0/8', '::1/128'],
    stubStatusPath: '/nginx_status',
    metricsPath: '/metrics',
    dashboardPath: '/-/stats',
    topN: 20,
    version: '0.1.0-test',
    health: async () => health,
    logger: pino({ level: 'silent' }),
    ...o.stats,
  });
  const records: RequestRecord[] = [];
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (stats.handle(req, res, req.socket.remoteAddress ?? '')) return;
    const started = performance.now();
    const url = new URL(req.url ?? '/', 'http://x');
    const route = classifyRoute(req.method ?? 'GET', req.url ?? '/');
    const ua = req.headers['user-agent'] ?? 'unknown';
    const [clientType, clientVersion] = (ua.split(' ')[0] ?? 'unknown').split('/');
    let bytesIn = 0;
    let bytesOut = 0;
    req.on('data', (c: Buffer) => (bytesIn += c.length));
    res.on('close', () => {
      const r: RequestRecord = {
        method: req.method ?? 'GET',
        status: res.statusCode,
        operation: route.operation,
        repository: route.repository,
        reference: route.reference,
        user: (req.headers['x-test-user'] as string | undefined) ?? undefined,
        clientType: clientType || 'unknown',
        clientVersion,
        bytesIn,
        bytesOut,
        durationMs: performance.now() - started,
        upstreamMs: performance.now() - started,
        upstreamMember: 'registry:5000',
      };
      records.push(r);
      stats.record(r);
    });
    req.on('end', () => {
      const status = Number(url.searchParams.get('status') ?? (route.operation === 'manifest_put' ? 201 : route.operation === 'blob_upload' ? 202 : 200));
      const size = Number(url.searchParams.get('size') ?? 2);
      const delay = Number(url.searchParams.get('delay') ?? 0);
      const stream = Number(url.searchParams.get('stream') ?? 0);
      const answer = () => {
        if (res.destroyed) return;
        res.writeHead(status, { 'content-type': 'application/octet-stream', 'content-length': size });
        if (!stream) {
          bytesOut += size;
          res.end(Buffer.alloc(size, 0x61));
          return;
        }
        // A long transfer: the body trickles out in ten pieces over `stream` ms.
        const piece = Math.ceil(size / 10);
        let sent = 0;
        const timer = setInterval(() => {
          if (res.destroyed) return clearInterval(timer);
          const n = Math.min(piece, size - sent);
          res.write(Buffer.alloc(n, 0x61));
          sent += n;
          bytesOut += n;
          if (sent >= size) {
            clearInterval(timer);
            res.end();
          }
        }, stream / 10);
        res.once('close', () => clearInterval(timer));
      };
      if (delay) setTimeout(answer, delay);
      else answer();
    });
    req.resume();
  };
  const server = o.tls
    ? (https.createServer({ ...o.server, key: o.tls.key, cert: o.tls.cert }, handler) as unknown as http.Server)
    : http.createServer(o.server ?? {}, handler);
  if (o.maxConnections !== undefined) server.maxConnections = o.maxConnections;
  stats.attach(server);
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    stats,
    server,
    port,
    base: `${o.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    records,
    setHealth: (h) => (health = h),
    close: async () => {
      stats.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The stub_status page parsed into numbers (for assertions; the golden test checks bytes). */
export interface StubNumbers { active: number; accepted: number; handled: number; requests: number; reading: number; writing: number; waiting: number }

export function parseStub(text: string): StubNumbers {
  const m = /^Active connections: (\d+) \nserver accepts handled requests\n (\d+) (\d+) (\d+) \nReading: (\d+) Writing: (\d+) Waiting: (\d+) \n$/.exec(text);
  if (!m) throw new Error(`not a stub_status page: ${JSON.stringify(text)}`);
  const n = m.slice(1).map(Number);
  return { active: n[0]!, accepted: n[1]!, handled: n[2]!, requests: n[3]!, reading: n[4]!, writing: n[5]!, waiting: n[6]! };
}

/** GET a path on a fresh connection (agent: false), so the probe itself is one known connection. */
export function get(base: string, path: string, headers: Record<string, string> = {}, method = 'GET', body?: Buffer | string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const u = new URL(path, base);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(u, { method, headers, agent: false, rejectUnauthorized: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Read stub_status over a fresh connection. The probe adds itself: one more active
 * connection in Writing and one more request, exactly as nginx reports its own page.
 */
export async function stub(base: string): Promise<StubNumbers> {
  const r = await get(base, '/nginx_status');
  if (r.status !== 200) throw new Error(`stub_status answered ${r.status}: ${r.body}`);
  return parseStub(r.body);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll until `check` passes (returns true) or the deadline passes; returns the last value. */
export async function until<T>(read: () => Promise<T>, check: (v: T) => boolean, timeoutMs = 5_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let v = await read();
  while (!check(v) && Date.now() < deadline) {
    await sleep(everyMs);
    v = await read();
  }
  return v;
}

/** A raw TCP client: write request bytes by hand. */
export async function rawConnect(port: number): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => {});
  await new Promise<void>((resolve, reject) => { s.once('connect', () => resolve()); s.once('error', reject); });
  return s;
}
