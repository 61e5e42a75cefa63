/**
 * nginx-style connection accounting for Node http/https servers.
 *
 * nginx (ngx_http_request.c, ngx_http_stub_status_module.c) counts:
 *  - accepts: every accepted connection; handled: those not dropped for resource limits
 *    (here: Node's `server.maxConnections`, whose refusals arrive as the 'drop' event);
 *  - requests: every request, stats requests included;
 *  - per open connection one state:
 *      reading  — request header bytes have arrived but the header is not complete
 *                 (a TLS handshake in progress counts here too);
 *      writing  — a request header was read and its response is not finished: the request
 *                 body upload, the backend's work and the response transfer (a 10 GB blob
 *                 upload or download is "writing" all the way through);
 *      waiting  — open and idle: a fresh connection that has sent nothing yet, or a
 *                 keep-alive connection between requests.
 *
 * Writing is kept as a counter, updated on the 'request' event and the response's 'close'.
 * Reading versus waiting needs "have bytes arrived since the last response ended?", which
 * Node does not announce (the HTTP parser reads the socket handle directly; listening for
 * 'data' would switch the socket to the slow JS path). So it is decided when someone looks:
 * an idle connection whose `socket.bytesRead` grew past the mark taken when it went idle is
 * reading, else waiting. The hot path stays a few integer updates per request; the cost
 * moves to snapshot(), which is O(open connections) and runs at most a few times a second.
 */
import type { Server, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface ConnectionSnapshot {
  active: number;
  reading: number;
  writing: number;
  waiting: number;
  accepted: number;
  handled: number;
  requests: number;
}

interface Conn {
  tracker: ConnectionTracker;
  /** The TCP socket (for TLS, the raw socket under the TLSSocket): its bytesRead counts handshake bytes too. */
  raw: Socket;
  /** Requests whose response has not finished (pipelined requests can overlap). */
  inflight: number;
  /** raw.bytesRead when the connection last became idle. */
  mark: number;
  closed: boolean;
}

const kConn = Symbol('portcullis.stats.conn');
type Tagged = { [kConn]?: Conn };

export class ConnectionTracker {
  accepted = 0;
  handled = 0;
  requests = 0;
  /** Connections with at least one unfinished request. */
  writing = 0;
  private readonly open = new Set<Conn>();
  private readonly servers: Server[] = [];

  // Arrow properties: bound once, so adding them as listeners allocates nothing per event.
  private readonly onConnection = (socket: Socket): void => {
    this.accepted++;
    this.handled++;
    this.track(socket);
  };

  /** net.Server refused the connection because maxConnections was reached: accepted, not handled. */
  private readonly onDrop = (): void => {
    this.accepted++;
  };

  private readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    this.requests++;
    const socket = req.socket as Socket & Tagged & { _parent?: Socket & Tagged };
    // For TLS the request arrives on the TLSSocket; its raw socket (`_parent`, set by
    // node:tls for server sockets) is the one seen on 'connection'.
    let conn = socket[kConn];
    if (!conn) {
      conn = socket._parent?.[kConn] ?? this.track(socket._parent ?? socket);
      socket[kConn] = conn;
    }
    if (conn.closed) return;
    if (conn.inflight++ === 0) this.writing++;
    (res as ServerResponse & Tagged)[kConn] = conn;
    res.once('close', onResponseClose);
  };

  attach(server: Server): void {
    this.servers.push(server);
    server.on('connection', this.onConnection);
    server.on('drop', this.onDrop);
    // Prepended so the counts already include this request when the gateway's handler runs
    // (nginx's own stub_status page shows its request as Writing: 1).
    server.prependListener('request', this.onRequest);
  }

  detach(): void {
    for (const server of this.servers) {
      server.off('connection', this.onConnection);
      server.off('drop', this.onDrop);
      server.off('request', this.onRequest);
    }
    this.servers.length = 0;
  }

  snapshot(): ConnectionSnapshot {
    let reading = 0;
    let waiting = 0;
    for (const conn of this.open) {
      if (conn.inflight > 0) continue;
      if (conn.raw.bytesRead > conn.mark) reading++;
      else waiting++;
    }
    return {
      active: this.open.size,
      reading,
      writing: this.writing,
      waiting,
      accepted: this.accepted,
      handled: this.handled,
      requests: this.requests,
    };
  }

  private track(socket: Socket & Tagged): Conn {
    const conn: Conn = { tracker: this, raw: socket, inflight: 0, mark: 0, closed: false };
    socket[kConn] = conn;
    this.open.add(conn);
    socket.once('close', onSocketClose);
    return conn;
  }

  /** The connection is gone (client abort, timeout, keep-alive expiry, server close). */
  closed(conn: Conn): void {
    if (conn.closed) return;
    conn.closed = true;
    if (conn.inflight > 0) this.writing--;
    conn.inflight = 0;
    this.open.delete(conn);
  }

  /** A response finished or its connection went away. */
  finished(conn: Conn): void {
    if (conn.closed) return;
    if (--conn.inflight === 0) {
      this.writing--;
      conn.mark = conn.raw.bytesRead;
    }
  }
}

// Shared handlers (no closure per connection or request): `this` is the emitter.
function onResponseClose(this: ServerResponse & Tagged): void {
  const conn = this[kConn];
  if (conn) conn.tracker.finished(conn);
}

function onSocketClose(this: Socket & Tagged): void {
  const conn = this[kConn];
  if (conn) conn.tracker.closed(conn);
}
