/**
 * With access rules, `GET /v2/_catalog` (and the usage listing, whose entries are objects with
 * a `name`) lists only repositories the user may pull.
 * The catalog is a small JSON page, so the response is collected, filtered and re-sent;
 * this is the one response the gateway ever buffers, and only when access rules exist.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

const MAX_CATALOG_BYTES = 16 << 20;

export function filterCatalogResponse(res: ServerResponse, filter: (repositories: string[]) => string[]): void {
  const writeHead = res.writeHead.bind(res);
  const end = res.end.bind(res);
  const chunks: Buffer[] = [];
  let size = 0;
  const collect = (chunk: unknown, encoding?: unknown) => {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
    const buf =
      typeof chunk === 'string'
        ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
        : Buffer.from(chunk as Uint8Array);
    size += buf.length;
    if (size <= MAX_CATALOG_BYTES) chunks.push(buf);
  };
  res.writeHead = ((status: number, a?: unknown, b?: unknown) => {
    res.statusCode = status;
    const headers = (typeof a === 'string' ? b : a) as OutgoingHttpHeaders | undefined;
    for (const [k, v] of Object.entries(headers ?? {})) if (v !== undefined) res.setHeader(k, v);
    return res;
  }) as typeof res.writeHead;
  res.write = ((chunk: unknown, encoding?: unknown, cb?: unknown) => {
    collect(chunk, encoding);
    if (typeof encoding === 'function') (encoding as () => void)();
    else if (typeof cb === 'function') (cb as () => void)();
    return true;
  }) as typeof res.write;
  res.end = ((chunk?: unknown, encoding?: unknown) => {
    collect(chunk, encoding);
    res.writeHead = writeHead;
    let body = Buffer.concat(chunks);
    if (res.statusCode === 200 && size <= MAX_CATALOG_BYTES) {
      try {
        const doc = JSON.parse(body.toString('utf8')) as { repositories?: unknown };
        if (Array.isArray(doc.repositories)) {
          const entries = doc.repositories.filter(
            (r): r is string | { name: string } => typeof r === 'string' || typeof r?.name === 'string',
          );
          const allowed = new Set(filter(entries.map((r) => (typeof r === 'string' ? r : r.name))));
          doc.repositories = entries.filter((r) => allowed.has(typeof r === 'string' ? r : r.name));
          body = Buffer.from(JSON.stringify(doc));
        }
      } catch {
        /* not JSON: pass through unchanged */
      }
    }
    res.removeHeader('transfer-encoding');
    res.setHeader('content-length', body.length);
    return end(res.req?.method === 'HEAD' ? undefined : body);
  }) as typeof res.end;
}
