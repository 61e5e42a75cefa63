/**
 * Retention policies from the config file: a list of rules, each for the repositories its
 * globs name. The first rule whose glob matches a repository is the one that applies to it
 * (like an access list: put specific globs before `*`). Three lines cap a store:
 *
 *   retention:
 *     - repositories: "*"
 *       keepLast: 10
 *
 * Tag rules keep; a tag no keep-rule keeps is deleted. A rule without any keep-rule keeps
 * every tag (it may still delete untagged manifests and orphaned referrers).
 *
 *   keepLast: N                  the N most recently pushed tags
 *   keepPushedWithin: 30d        tags pushed within the duration
 *   keepPulledWithin: 30d        tags whose manifest was pulled within the duration
 *   keepTags: ["v*", "latest"]   tags matching a glob (`*` = any run of characters)
 *   deleteUntaggedAfter: 7d      manifests no tag, index or subject reaches, pushed longer ago
 *   deleteOrphanReferrers: true  referrers (signatures, SBOMs; also cosign's sha256-….sig tags)
 *                                whose subject is gone or goes in this run
 *
 * Signature tags in cosign's form are never counted by keepLast; they go with their subject.
 */
import { parseDuration } from '../config/duration.js';
import { InvalidValue } from '../oci/invalid-value.js';
import { OptionError } from '../startup-error.js';

export interface RetentionRule {
  repositories: string[];
  keepLast?: number;
  keepPushedWithinMs?: number;
  keepPulledWithinMs?: number;
  keepTags?: string[];
  deleteUntaggedAfterMs?: number;
  deleteOrphanReferrers: boolean;
}

export interface RetentionPolicy {
  rules: RetentionRule[];
  /** The rule for a repository, or undefined: no rule, nothing is touched. */
  ruleFor(repository: string): RetentionRule | undefined;
}

/** `*` matches any run of characters (also `/`), everything else itself. */
export function globMatcher(pattern: string): (name: string) => boolean {
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\/-]/g, '\\$&'))
    .join('.*');
  const re = new RegExp(`^${source}$`, 's');
  return (name) => re.test(name);
}

const KEYS = [
  'repositories',
  'keepLast',
  'keepPushedWithin',
  'keepPulledWithin',
  'keepTags',
  'deleteUntaggedAfter',
  'deleteOrphanReferrers',
];

/** Validate the config value; every error names the rule and the key, in one line. */
export function parseRetention(raw: unknown): RetentionPolicy {
  const list = raw === undefined || raw === null ? [] : Array.isArray(raw) ? raw : [raw];
  const rules = list.map((item, i): RetentionRule => {
    const where = `retention rule ${i + 1}`;
    if (!item || typeof item !== 'object' || Array.isArray(item))
      throw new InvalidValue(`${where}: expected a mapping with "repositories" and keep/delete rules`);
    const r = item as Record<string, unknown>;
    for (const k of Object.keys(r))
      if (!KEYS.includes(k)) throw new InvalidValue(`${where}: unknown key "${k}" (known: ${KEYS.join(', ')})`);
    const strings = (k: string): string[] | undefined => {
      const v = r[k];
      if (v === undefined) return undefined;
      const xs = Array.isArray(v) ? v : [v];
      if (xs.length === 0 || !xs.every((x) => typeof x === 'string' && x !== ''))
        throw new InvalidValue(`${where}: ${k} must be a glob or a list of globs`);
      return xs as string[];
    };
    const duration = (k: string): number | undefined => {
      const v = r[k];
      if (v === undefined) return undefined;
      try {
        return parseDuration(v as string | number);
      } catch (e) {
        throw new InvalidValue(`${where}: ${k}: ${(e as Error).message}`);
      }
    };
    const repositories = strings('repositories');
    if (!repositories) throw new InvalidValue(`${where}: "repositories" is required (a glob such as "*" or "team/*")`);
    let keepLast: number | undefined;
    if (r.keepLast !== undefined) {
      keepLast = Number(r.keepLast);
      if (!Number.isInteger(keepLast) || keepLast < 0)
        throw new InvalidValue(`${where}: keepLast must be a whole number, got ${JSON.stringify(r.keepLast)}`);
    }
    if (r.deleteOrphanReferrers !== undefined && typeof r.deleteOrphanReferrers !== 'boolean')
      throw new InvalidValue(`${where}: deleteOrphanReferrers must be true or false`);
    return {
      repositories,
      keepLast,
      keepPushedWithinMs: duration('keepPushedWithin'),
      keepPulledWithinMs: duration('keepPulledWithin'),
      keepTags: strings('keepTags'),
      deleteUntaggedAfterMs: duration('deleteUntaggedAfter'),
      deleteOrphanReferrers: r.deleteOrphanReferrers === true,
    };
  });
  const matchers = rules.map((rule) => rule.repositories.map(globMatcher));
  return {
    rules,
    ruleFor(repository) {
      const i = matchers.findIndex((ms) => ms.some((m) => m(repository)));
      return i === -1 ? undefined : rules[i];
    },
  };
}

/** Does the rule say anything about tags (if not, every tag stays)? */
export function hasTagRules(rule: RetentionRule): boolean {
  return (
    rule.keepLast !== undefined ||
    rule.keepPushedWithinMs !== undefined ||
    rule.keepPulledWithinMs !== undefined ||
    rule.keepTags !== undefined
  );
}

/**
 * The --retention option's rules, for every command that reads them (the server, `retention`,
 * `check-config`): a value parseRetention refuses becomes one error naming the flag.
 */
export function retentionOption(raw: unknown): RetentionPolicy {
  try {
    return parseRetention(raw);
  } catch (e) {
    if (e instanceof InvalidValue) throw new OptionError('retention', e.message);
    throw e;
  }
}
