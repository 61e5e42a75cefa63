/**
 * The last Basic Authorization header verified on each connection, and whose it was.
 *
 * docker, containerd and skopeo send the same header on every request of a keep-alive
 * connection; remembering per connection which exact header verified lets the next request skip
 * the base64 decode and the keyed hash of the credential cache. It is only ever consulted for the
 * same connection object and the byte-identical header (a proxy that multiplexes clients over one
 * connection sends their own headers, which do not match), entries go with the connection (a
 * WeakMap), and each entry belongs to one generation of the htpasswd users: a reload or file
 * change starts a new generation, so a removed user or a changed password is checked again.
 */
interface Remembered {
  header: string;
  user: string;
  generation: number;
}

export class ConnectionMemo {
  private readonly byConnection = new WeakMap<object, Remembered>();

  constructor(private readonly currentGeneration: () => number) {}

  /** The user `header` verified as on this connection, if it is still valid. */
  userFor(connection: object, header: string): string | undefined {
    const r = this.byConnection.get(connection);
    if (r === undefined || r.header !== header || r.generation !== this.currentGeneration()) return undefined;
    return r.user;
  }

  /** `generation` is the one read before the verification started, so a reload during it voids the entry. */
  remember(connection: object, header: string, user: string, generation: number): void {
    this.byConnection.set(connection, { header, user, generation });
  }
}
