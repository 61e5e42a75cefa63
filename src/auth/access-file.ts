/**
 * The `--access` YAML file: groups of users, and rules that grant actions on repository
 * globs to users, groups, every authenticated user, or anonymous clients. Rules only grant
 * (there is no deny), so their order does not matter: what a user may do is the union of
 * the rules that name them. Format and examples: docs/auth.md.
 *
 * Validation errors name the file and the path inside it ("rules[2].actions[0]: ..."), on
 * one line, so a start-up failure or a logged reload failure says exactly what to fix.
 */
import { parseYaml } from '../yaml-text.js';
import { z } from 'zod';
import type { Action } from '../oci/operations.js';
import { InvalidValue } from '../oci/invalid-value.js';

export const ACTIONS = ['pull', 'push', 'delete'] as const satisfies readonly Action[];

// Repository names are `[a-z0-9._/-]` (OCI distribution-spec); `*` is the glob.
const RepositoryGlob = z
  .string()
  .regex(
    /^[a-z0-9._/*-]+$/,
    'must be a repository name or glob: lower-case letters, digits, ".", "_", "-", "/" and "*"',
  );
const ActionOrAll = z.enum(['pull', 'push', 'delete', '*']);
const Name = z
  .string()
  .min(1)
  .refine((s) => !s.includes(':') && !/\s/.test(s), 'must not contain ":" or whitespace');

const Rule = z
  .strictObject({
    repository: z.union([RepositoryGlob, z.array(RepositoryGlob).min(1)]),
    users: z.array(Name).optional(),
    groups: z.array(Name).optional(),
    authenticated: z.literal(true).optional(),
    anonymous: z.literal(true).optional(),
    actions: z.array(ActionOrAll).min(1),
  })
  .superRefine((r, ctx) => {
    if (!r.users?.length && !r.groups?.length && !r.authenticated && !r.anonymous) {
      ctx.addIssue({
        code: 'custom',
        message: 'a rule needs at least one of users, groups, authenticated: true, anonymous: true',
      });
    }
    // Anonymous writes would make the htpasswd file pointless; refuse the foot-gun.
    if (r.anonymous && r.actions.some((a) => a !== 'pull')) {
      ctx.addIssue({ code: 'custom', path: ['actions'], message: 'anonymous rules may only grant pull' });
    }
  });

const AccessFileSchema = z
  .strictObject({
    groups: z.record(Name, z.array(Name)).optional(),
    rules: z.array(Rule),
  })
  .superRefine((f, ctx) => {
    for (const [i, r] of f.rules.entries()) {
      for (const [j, g] of (r.groups ?? []).entries()) {
        if (!f.groups || !Object.hasOwn(f.groups, g)) {
          ctx.addIssue({
            code: 'custom',
            path: ['rules', i, 'groups', j],
            message: `unknown group "${g}" (define it under groups:)`,
          });
        }
      }
    }
  });

export interface AccessRule {
  repositories: string[];
  users: string[];
  groups: string[];
  authenticated: boolean;
  anonymous: boolean;
  actions: Action[];
}

export interface AccessConfig {
  groups: Map<string, Set<string>>;
  rules: AccessRule[];
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out || '(top level)';
}

/** Parse and validate; throws an Error whose message is "FILE: PATH: problem" on one line. */
export function parseAccessFile(text: string, file: string): AccessConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new InvalidValue(`${file}: invalid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const result = AccessFileSchema.safeParse(doc ?? {});
  if (!result.success) {
    const issue = result.error.issues[0]!; // a failed parse always reports at least one issue
    const more = result.error.issues.length > 1 ? ` (and ${result.error.issues.length - 1} more)` : '';
    throw new InvalidValue(`${file}: ${formatPath(issue.path)}: ${issue.message}${more}`);
  }
  const groups = new Map<string, Set<string>>();
  for (const [g, members] of Object.entries(result.data.groups ?? {})) groups.set(g, new Set(members));
  const rules = result.data.rules.map((r) => ({
    repositories: typeof r.repository === 'string' ? [r.repository] : r.repository,
    users: r.users ?? [],
    groups: r.groups ?? [],
    authenticated: r.authenticated === true,
    anonymous: r.anonymous === true,
    actions: r.actions.includes('*') ? [...ACTIONS] : (r.actions as Action[]),
  }));
  return { groups, rules };
}

/** Every user name the file mentions (to warn about names missing from htpasswd). */
export function mentionedUsers(cfg: AccessConfig): Set<string> {
  const out = new Set<string>();
  for (const members of cfg.groups.values()) for (const u of members) out.add(u);
  for (const r of cfg.rules) for (const u of r.users) out.add(u);
  return out;
}
