/**
 * The Content-Security-Policy of the self-contained pages portcullis serves (the live dashboard,
 * the repository browser): the one inline script allowed by its hash, inline styles (they cannot
 * run code; style="" attributes would otherwise need brittle per-attribute hashes), requests to
 * the page's own origin only, and nothing else: no images, frames, forms or other sites.
 */
import { createHash } from 'node:crypto';

export function inlinePageCsp(script: string): string {
  const scriptHash = `'sha256-${createHash('sha256').update(script).digest('base64')}'`;
  return [
    "default-src 'none'",
    `script-src ${scriptHash}`,
    "style-src 'unsafe-inline'",
    "connect-src 'self'",
    "img-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}
