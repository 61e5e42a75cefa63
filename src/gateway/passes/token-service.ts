/** The built-in token service (`/token`) of the Docker token protocol, when authentication is on. */
import type { AuthService } from '../../auth/index.js';
import { publicOrigin } from '../forwarded.js';
import { ANSWERED, NEXT, type Pass } from './pass.js';

export function tokenService(auth: AuthService): Pass {
  return async (ctx) => {
    if (ctx.route.path !== auth.tokenPath) return NEXT;
    await auth.handleTokenRequest(ctx.req, ctx.res, {
      clientIp: ctx.client.ip,
      publicOrigin: publicOrigin(ctx.client),
    });
    return ANSWERED;
  };
}
