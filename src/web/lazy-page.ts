/**
 * Serves one of the self-contained pages (the live dashboard, the repository browser), importing
 * the module that builds it with the page's first request. Each page is tens of KB of markup and
 * script that a gateway only serving the registry API never sends; a module loaded at start stays
 * resident in every idle server.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface PageSource {
  html: string;
  csp: string;
}

export function lazyPage(
  load: () => Promise<PageSource>,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  let page: Promise<PageSource> | undefined;
  return async (req, res) => {
    let source: PageSource;
    try {
      page ??= load();
      source = await page;
    } catch (err) {
      page = undefined;
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`page unavailable: ${(err as Error).message}\n`);
      return;
    }
    if (res.destroyed) return;
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-length': Buffer.byteLength(source.html),
      'content-security-policy': source.csp,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-cache',
    });
    res.end(req.method === 'HEAD' ? undefined : source.html);
  };
}
