/**
 * Headers on every answer from here on, the gateway's own errors included: the registry API
 * version (docker login takes a 401 without it for "not a registry"), and HSTS over https when
 * asked for.
 */
import { API_VERSION, API_VERSION_HEADER } from '../../oci/errors.js';
import { NEXT, type Pass } from './pass.js';

export function apiHeaders(opts: { hsts: boolean }): Pass {
  return (ctx) => {
    ctx.res.setHeader(API_VERSION_HEADER, API_VERSION);
    if (opts.hsts && ctx.client.scheme === 'https') ctx.res.setHeader('strict-transport-security', 'max-age=31536000');
    return NEXT;
  };
}
