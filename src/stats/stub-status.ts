/**
 * nginx's stub_status page, byte for byte.
 *
 * Format from nginx/nginx:src/http/modules/ngx_http_stub_status_module.c — note the space
 * before each "\n" on lines 1, 3 and 4 and the leading space on line 3. collectd's nginx
 * plugin and nginx-prometheus-exporter (`fmt.Fscanf` with the same literal text) parse it,
 * so any deviation breaks existing monitoring.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ConnectionSnapshot } from './connection-tracker.js';

export function renderStubStatus(s: ConnectionSnapshot): string {
  return (
    `Active connections: ${s.active} \n` +
    'server accepts handled requests\n' +
    ` ${s.accepted} ${s.handled} ${s.requests} \n` +
    `Reading: ${s.reading} Writing: ${s.writing} Waiting: ${s.waiting} \n`
  );
}

/** Answer like nginx: GET and HEAD only (405 otherwise), text/plain, Content-Length, no caching. */
export function serveStubStatus(req: IncomingMessage, res: ServerResponse, snapshot: ConnectionSnapshot): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain', 'content-length': 0 });
    res.end();
    return;
  }
  const body = renderStubStatus(snapshot);
  res.writeHead(200, {
    'content-type': 'text/plain',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-cache',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}
