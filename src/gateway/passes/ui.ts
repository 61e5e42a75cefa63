/**
 * The repository browser page at /-/ui. Only the page is served here, without credentials:
 * it carries no data. Everything it shows it asks the registry API for, with the user's own
 * credentials, so the access rules decide what each user sees and may delete.
 */
import { lazyPage } from '../../web/lazy-page.js';
import { ANSWERED, NEXT, type Pass } from './pass.js';

export const UI_PATH = '/-/ui';

const servePage = lazyPage(async () => {
  const page = await import('../../ui/browser-page.js');
  return { html: page.BROWSER_HTML, csp: page.BROWSER_CSP };
});

export const repositoryBrowser: Pass = ({ req, res, route }) => {
  if (route.path !== UI_PATH && route.path !== `${UI_PATH}/`) return NEXT;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
    res.end('method not allowed\n');
    return ANSWERED;
  }
  return servePage(req, res).then(() => ANSWERED);
};
