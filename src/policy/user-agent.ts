/**
 * Refuse clients that cannot speak Registry API v2, as the nginx recipe does
 * (distribution docs recipes/nginx.md, docs/pitfalls.md: "Old docker clients"):
 *   if ($http_user_agent ~ "^(docker\/1\.(3|4|5(?!\.[0-9]-dev))|Go ).*$" ) { return 404; }
 * "docker pre-1.6.0 did not properly set the user agent on ping, catch 'Go *' user agents".
 * JavaScript RegExp supports the lookahead, so the rule is used verbatim. The gateway
 * answers a match with 404 and a JSON body; this module only says which rule matched.
 */
import { OptionError } from '../startup-error.js';

export const DEFAULT_UA_RULE = '^(docker\\/1\\.(3|4|5(?!\\.[0-9]-dev))|Go ).*$';

export interface UserAgentPolicy {
  /** The source of the first rule that matches, or undefined when the client may proceed. */
  blockedBy(userAgent: string | undefined): string | undefined;
}

export function createUserAgentPolicy(opts: { extra: string[]; defaultRule: boolean }): UserAgentPolicy {
  const sources = [...(opts.defaultRule ? [DEFAULT_UA_RULE] : []), ...opts.extra];
  const rules = sources.map((source) => {
    try {
      return { source, re: new RegExp(source) };
    } catch (err) {
      const why = (err as Error).message;
      throw new OptionError('blockUserAgent', `invalid regular expression ${JSON.stringify(source)}: ${why}`);
    }
  });
  if (rules.length === 0) return { blockedBy: () => undefined };
  return {
    blockedBy(userAgent) {
      // No User-Agent at all is not an old docker (those always sent one): let it through,
      // as nginx's `if` does with an empty $http_user_agent.
      if (userAgent === undefined) return undefined;
      for (const r of rules) if (r.re.test(userAgent)) return r.source;
      return undefined;
    },
  };
}
