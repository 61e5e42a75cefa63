/**
 * While shutting down, new requests get 503 with `Connection: close` and `Retry-After`, so a
 * client or load balancer tries another instance; transfers already running finish.
 */
import { sendError } from '../../oci/errors.js';
import { ANSWERED, NEXT, type Pass } from './pass.js';

export function draining(isDraining: () => boolean): Pass {
  return ({ res }) => {
    if (!isDraining()) return NEXT;
    sendError(res, 'UNAVAILABLE', 'portcullis is shutting down', undefined, {
      headers: { connection: 'close', 'retry-after': '5' },
    });
    return ANSWERED;
  };
}
