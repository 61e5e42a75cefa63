/**
 * Fixtures shared by the real-consumer tests (nginx-prometheus-exporter, collectd,
 * prometheus): a harness holding one connection in each nginx state, and counters of what
 * the server saw so expected totals are exact rather than "at least".
 */
import type { Socket } from 'node:net';
import { get, rawConnect, startHarness, type Harness } from './harness.js';

export interface Held {
  h: Harness;
  /** Requests the server has seen so far (all paths, stats included), like nginx counts. */
  requests(): number;
  /** Connections the server accepted so far. */
  connections(): number;
  /** stub_status requests served so far. */
  stubHits(): number;
  release(): void;
}

/** Known traffic, then one connection reading, one writing (a long download), one waiting. */
export async function holdOneOfEach(registryRequests = 5): Promise<Held> {
  const h = await startHarness();
  let requests = 0;
  let connections = 0;
  let stubHits = 0;
  h.server.on('request', (req) => {
    requests++;
    if (req.url?.startsWith('/nginx_status')) stubHits++;
  });
  h.server.on('connection', () => connections++);
  for (let i = 0; i < registryRequests; i++) await get(h.base, `/v2/team/app/manifests/v${i}`);
  const reading: Socket = await rawConnect(h.port);
  reading.write('GET /v2/ HTTP/1.1\r\nHost: x\r\n');
  const writing: Socket = await rawConnect(h.port);
  writing.write('GET /v2/team/app/blobs/sha256:aa?stream=120000&size=1000 HTTP/1.1\r\nHost: x\r\n\r\n');
  const waiting: Socket = await rawConnect(h.port);
  waiting.write('GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise<void>((resolve) => waiting.once('data', () => resolve()));
  writing.resume();
  return {
    h,
    requests: () => requests,
    connections: () => connections,
    stubHits: () => stubHits,
    release: () => {
      for (const s of [reading, writing, waiting]) s.destroy();
    },
  };
}
