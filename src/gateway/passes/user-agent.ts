/**
 * Clients too old for registry API v2 (docker before 1.6, bare Go clients) get 404, as the nginx
 * recipe answers them, with a JSON body that says why.
 */
import type { Logger } from 'pino';
import { sendError } from '../../oci/errors.js';
import type { UserAgentPolicy } from '../../policy/user-agent.js';
import type { Stats } from '../../stats/index.js';
import { ANSWERED, NEXT, type Pass } from './pass.js';

export function userAgentPolicy(policy: UserAgentPolicy, logger: Logger, stats?: Stats): Pass {
  return (ctx) => {
    const blockedBy = policy.blockedBy(ctx.userAgent);
    if (!blockedBy) return NEXT;
    stats?.blockedAgent(ctx.clientType);
    logger.info(
      { ua: ctx.userAgent, rule: blockedBy, ip: ctx.client.ip },
      'refused a client too old for registry API v2',
    );
    sendError(ctx.res, 'NOT_FOUND', 'this client cannot speak registry API v2; upgrade docker to 1.6 or later', {
      userAgent: ctx.userAgent ?? null,
      rule: blockedBy,
    });
    return ANSWERED;
  };
}
