/**
 * The dashboard's live feed: server-sent events, one "tick" a second.
 *
 * A client first gets "init" (the whole per-second history, so charts are full at once),
 * then a "tick" per second with the newest sample and the current state. SSE rather than
 * WebSockets: one-way, plain HTTP through any proxy, and EventSource reconnects by itself.
 * A client that cannot keep up (write() returned false) skips ticks until it drains, so a
 * stalled phone never makes the gateway buffer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';

interface Client {
  res: ServerResponse;
  congested: boolean;
}

export class EventHub {
  private readonly clients = new Set<Client>();

  constructor(private readonly logger: Logger) {}

  get size(): number {
    return this.clients.size;
  }

  /** Take over a request as an event stream; `init` is the first event's payload. */
  open(req: IncomingMessage, res: ServerResponse, init: unknown): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      // Tell nginx-style intermediaries not to buffer the stream.
      'x-accel-buffering': 'no',
    });
    const client: Client = { res, congested: false };
    this.clients.add(client);
    res.write(`retry: 2000\n\n`);
    this.write(client, 'init', init);
    res.on('drain', () => (client.congested = false));
    const done = () => this.clients.delete(client);
    req.on('close', done);
    res.on('close', done);
  }

  broadcast(event: string, payload: unknown): void {
    if (this.clients.size === 0) return;
    const frame = `event: ${event}\ndata: ${JSON.stringify(payload)}\n\n`;
    for (const client of this.clients) {
      if (client.congested) continue;
      try {
        client.congested = !client.res.write(frame);
      } catch (err) {
        this.logger.debug({ err }, 'stats event stream write failed');
        this.clients.delete(client);
      }
    }
  }

  close(): void {
    for (const client of this.clients) client.res.end();
    this.clients.clear();
  }

  private write(client: Client, event: string, payload: unknown): void {
    client.congested = !client.res.write(`event: ${event}\ndata: ${JSON.stringify(payload)}\n\n`);
  }
}
