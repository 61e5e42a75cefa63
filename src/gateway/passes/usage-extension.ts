/**
 * The usage extension (/v2/_portcullis/usage, /v2/<name>/_portcullis/usage[/tags]) is answered by the
 * embedded core, which keeps the figures. An upstream registry cannot say how much it stores,
 * so with --upstream the gateway answers a registry-style 404 itself, the one the repository
 * browser recognises as "no usage figures here" (rather than forwarding a path the upstream
 * would answer in its own way).
 */
import type { Backend } from '../../backends/backend.js';
import { sendError } from '../../oci/errors.js';
import { ANSWERED, NEXT, type Pass } from './pass.js';

export function usageExtension(backend: Backend): Pass {
  return ({ req, res, route }) => {
    if (route.operation !== 'repository_usage' && route.operation !== 'catalog_usage') return NEXT;
    if (backend.kind === 'embedded') return NEXT;
    req.resume();
    sendError(res, 'NOT_FOUND', 'usage figures are kept by the embedded registry core; not available with --upstream', {
      path: route.path,
      usage: 'unavailable',
    });
    return ANSWERED;
  };
}
