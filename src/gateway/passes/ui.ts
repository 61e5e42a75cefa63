/**
 * The repository browser page at /-/ui. Only the page is served here, without credentials:
 * it carries no data. Everything it shows it asks the registry API for, with the user's own
 * credentials, so the access rules decide what each user sees and may delete.
 */
import { BROWSER_CSP, BROWSER_HTML } from '../../ui/browser-page.js';
import { ANSWERED, NEXT, type Pass } from './pass.js';

export const UI_PATH = '/-/ui';

export const repositoryBrowser: Pass = ({ req, res, route }) => {
  if (route.path !== UI_PATH && route.path !== `${UI_PATH}/`) return NEXT;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
    res.end('method not allowed\n');
    return ANSWERED;
  }
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(BROWSER_HTML),
    'content-security-policy': BROWSER_CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-cache',
  });
  res.end(req.method === 'HEAD' ? undefined : BROWSER_HTML);
  return ANSWERED;
};
