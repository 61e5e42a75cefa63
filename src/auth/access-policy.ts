/**
 * Decide whether a user (undefined = anonymous) may perform an action on a repository.
 *
 * Without an access file: any authenticated user may do everything, and anonymous clients
 * may pull when --anonymous-read is on. With one: authenticated users get exactly what its
 * rules grant; anonymous clients get pull everywhere under --anonymous-read, plus whatever
 * `anonymous: true` rules grant.
 */
import type { Action } from '../oci/operations.js';
import type { AccessConfig } from './access-file.js';
import { compileGlob } from './repository-glob.js';

export interface AccessPolicy {
  allows(user: string | undefined, repository: string, action: Action): boolean;
  /** Actions out of `wanted` that are allowed (the token service grants this intersection). */
  allowedActions(user: string | undefined, repository: string, wanted: readonly Action[]): Action[];
}

interface CompiledRule {
  match: (name: string) => boolean;
  applies: (user: string | undefined) => boolean;
  actions: ReadonlySet<Action>;
}

export function createAccessPolicy(cfg: AccessConfig | undefined, anonymousRead: boolean): AccessPolicy {
  const anonymousPull = (user: string | undefined, action: Action): boolean =>
    user === undefined && anonymousRead && action === 'pull';
  let allows: AccessPolicy['allows'];
  if (!cfg) {
    allows = (user, _repo, action) => user !== undefined || anonymousPull(user, action);
  } else {
    const rules: CompiledRule[] = cfg.rules.map((r) => {
      const globs = r.repositories.map(compileGlob);
      const users = new Set(r.users);
      const groups = r.groups.map((g) => cfg.groups.get(g) ?? new Set<string>());
      return {
        match: (name) => globs.some((g) => g(name)),
        applies: (user) =>
          r.anonymous ||
          (user !== undefined && (r.authenticated || users.has(user) || groups.some((members) => members.has(user)))),
        actions: new Set(r.actions),
      };
    });
    allows = (user, repo, action) =>
      anonymousPull(user, action) || rules.some((r) => r.actions.has(action) && r.applies(user) && r.match(repo));
  }
  return {
    allows,
    allowedActions: (user, repo, wanted) => wanted.filter((a) => allows(user, repo, a)),
  };
}
