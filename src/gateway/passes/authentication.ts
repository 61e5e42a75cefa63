/**
 * Authentication and authorization of a registry API request (src/auth decides). A refused
 * request gets the registry's 401 or 403; the body of a refused upload is read and dropped so
 * the client sees that answer instead of a reset.
 */
import type { AuthService } from '../../auth/index.js';
import { sendRegistryError } from '../../oci/errors.js';
import type { Stats } from '../../stats/index.js';
import { publicOrigin } from '../forwarded.js';
import { ANSWERED, NEXT, type Pass } from './pass.js';

export function authentication(auth: AuthService, stats?: Stats): Pass {
  return async (ctx) => {
    const { req, res } = ctx;
    const result = await auth.check({
      method: req.method ?? 'GET',
      headers: req.headers,
      clientIp: ctx.client.ip,
      publicOrigin: publicOrigin(ctx.client),
      route: ctx.route,
      connection: req.socket,
    });
    if (result.ok) {
      ctx.user = result.user;
      return NEXT;
    }
    if (result.reason !== 'missing') stats?.authFailure(result.reason);
    req.resume();
    sendRegistryError(res, result.error);
    return ANSWERED;
  };
}
