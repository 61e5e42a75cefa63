/**
 * Scopes of the Docker registry token protocol (distribution docs, "Token Scope
 * Documentation"): `repository:<name>:<action>[,<action>...]`, optionally
 * `repository(<class>):...`, and `registry:catalog:*`. The name may itself contain ':'
 * only in other registries' conventions (host:port prefixes); the actions are after the
 * last ':'.
 */
import { REPOSITORY_NAME } from '../oci/names.js';
import type { Action } from '../oci/operations.js';

export interface ResourceScope {
  type: string;
  name: string;
  actions: string[];
}

/** Access entry as carried in the JWT `access` claim (same shape docker_auth/distribution use). */
export interface GrantedAccess {
  type: string;
  name: string;
  actions: string[];
}

export function parseScopes(values: string[]): ResourceScope[] {
  const out: ResourceScope[] = [];
  // Several `scope` parameters, or several scopes in one separated by spaces (OAuth2 style).
  for (const v of values) {
    for (const s of v.split(' ')) {
      if (s === '') continue;
      const first = s.indexOf(':');
      const last = s.lastIndexOf(':');
      if (first === -1 || first === last) continue;
      const type = s.slice(0, first).replace(/\(.*\)$/, '');
      const name = s.slice(first + 1, last);
      const actions = s
        .slice(last + 1)
        .split(',')
        .filter((a) => a !== '');
      out.push({ type, name, actions });
    }
  }
  return out;
}

export function isRepositoryName(name: string): boolean {
  return name.length <= 255 && REPOSITORY_NAME.test(name);
}

/** Requested action strings → the actions portcullis knows ('*' means all of them). */
export function requestedActions(actions: string[]): Action[] {
  const set = new Set<Action>();
  for (const a of actions) {
    if (a === '*') for (const x of ['pull', 'push', 'delete'] as const) set.add(x);
    else if (a === 'pull' || a === 'push' || a === 'delete') set.add(a);
  }
  return [...set];
}

/** The scope a client must ask for to perform `action`: pushes need pull too (blob mounts, HEAD checks). */
export function scopeFor(repository: string, action: Action): string {
  const actions = action === 'push' ? 'pull,push' : action;
  return `repository:${repository}:${actions}`;
}
