/**
 * CORS for browser registry UIs: a preflight is answered here, before authentication (a browser
 * never sends credentials on a preflight); other requests get the allow headers and go on.
 */
import type { CorsPolicy } from '../cors.js';
import { ANSWERED, NEXT, type Pass } from './pass.js';

export function cors(policy: CorsPolicy): Pass {
  return ({ req, res }) => {
    if (policy.preflight(req, res)) return ANSWERED;
    policy.decorate(req, res);
    return NEXT;
  };
}
