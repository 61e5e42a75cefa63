/**
 * HTTP(S) listeners with the timeouts a registry needs: no total request deadline (Node's
 * 300 s requestTimeout kills big pushes, nodejs/node#46574), slow headers cut off,
 * keep-alive above a load balancer's idle timeout, idle transfers cut after --idle-timeout.
 */
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { ListenAddress } from '../config/addresses.js';
import type { TlsMaterial } from './tls.js';
import { secureContextOptions } from './tls.js';
import { errorBody, API_VERSION, API_VERSION_HEADER } from '../oci/errors.js';
import { DEFAULT_LINGER, type LingerBounds, withLingeringClose } from './lingering-close.js';
import { readUploadBodiesDirectly } from './direct-body.js';

export interface ListenerOptions {
  tls?: TlsMaterial;
  tlsMinVersion: string;
  headerTimeoutMs: number;
  keepAliveTimeoutMs: number;
  idleTimeoutMs: number;
  /** Bounds of the lingering close after an answer sent while the body is still arriving. */
  linger?: LingerBounds;
  /** Bytes per block an upload body is read into (src/oci/body-blocks.ts); 256 KiB unless set. */
  bodyBlock?: number;
}

export type Listener = http.Server | https.Server;

export function createListener(handler: http.RequestListener, opts: ListenerOptions): Listener {
  const common: http.ServerOptions = {
    requestTimeout: 0,
    headersTimeout: opts.headerTimeoutMs,
    // Node checks header deadlines only this often (default 30 s): slowloris must not get 30 s.
    connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.floor(opts.headerTimeoutMs / 4))),
    keepAliveTimeout: opts.keepAliveTimeoutMs,
    // Long, many-header registry requests (Accept lists) fit easily; floods do not.
    maxHeaderSize: 64 * 1024,
    highWaterMark: 256 * 1024,
    noDelay: true,
  } as http.ServerOptions;
  const lingering = withLingeringClose(handler, opts.linger ?? DEFAULT_LINGER);
  const server = opts.tls
    ? https.createServer({ ...common, ...secureContextOptions(opts.tls, opts.tlsMinVersion) }, lingering)
    : http.createServer(common, lingering);
  // A second later than the upstream leg's idle timeout, so a stalled upstream is reported
  // to the client as a 504 JSON error before its own socket would be cut.
  server.setTimeout(opts.idleTimeoutMs + 1000);
  // Layer bodies in whole blocks straight off the socket instead of Node's 16 KiB pieces.
  readUploadBodiesDirectly(server, opts.bodyBlock);
  // Malformed requests get a plain 400 and the socket closes, never a crash (smuggling shapes, obs-fold).
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const body = errorBody('BAD_REQUEST', `malformed request (${err.code ?? 'parse error'})`);
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${API_VERSION_HEADER}: ${API_VERSION}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  return server;
}

export function listen(server: Listener, addr: ListenAddress): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(addr.port, addr.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Plain-HTTP listener that sends everyone to HTTPS; API clients get JSON, never an HTML page. */
export function createRedirectListener(
  httpsPort: number,
  headerTimeoutMs: number,
  linger: LingerBounds = DEFAULT_LINGER,
): http.Server {
  const redirect: http.RequestListener = (req, res) => {
    const host = (req.headers.host ?? 'localhost').replace(/:\d+$/, '');
    const target = `https://${host}${httpsPort === 443 ? '' : `:${httpsPort}`}${req.url ?? '/'}`;
    const body = errorBody('UNSUPPORTED', 'this registry only speaks HTTPS', { location: target });
    res.writeHead(308, {
      location: target,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      [API_VERSION_HEADER]: API_VERSION,
      connection: 'close',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  return http.createServer(
    { headersTimeout: headerTimeoutMs, requestTimeout: 60_000 },
    withLingeringClose(redirect, linger),
  );
}
