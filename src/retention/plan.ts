/**
 * What a retention run would delete, and how many bytes that frees once gc has run.
 *
 * Tags are decided by the repository's rule. Manifests and blobs are never deleted by
 * retention itself: a tag deletion makes them unreachable and gc (with its grace period for
 * pushes in flight) removes them. So the bytes a run frees are modelled as gc would see them:
 * what survives a gc after the run, compared with what survives a gc without it; a layer
 * shared with a kept image, or with another repository, is not counted.
 */
import { parseManifest } from '../registry/manifest-parse.js';
import type { RepositoryStore, Revision } from '../registry/repository.js';
import type { RepositoryUsage } from '../registry/usage/usage-recorder.js';
import { globMatcher, hasTagRules, type RetentionPolicy, type RetentionRule } from './policy.js';

export interface PlannedTag {
  repository: string;
  tag: string;
  digest: string;
  pushedAt: number;
  pulledAt?: number;
  reason: string;
}
export interface PlannedManifest {
  repository: string;
  digest: string;
  reason: string;
}
export interface RetentionPlan {
  tags: PlannedTag[];
  /** Manifests the following gc removes because of this run. */
  manifests: PlannedManifest[];
  bytesFreed: number;
  blobsFreed: number;
}

export interface PlanInput {
  repos: RepositoryStore;
  policy: RetentionPolicy;
  now: number;
  /** gc's grace period: anything pushed within it survives (pushes in flight). */
  gracePeriodMs: number;
  usage: (repository: string) => Promise<RepositoryUsage>;
}

/** cosign's signature/attestation/SBOM tags: `sha256-<hex>.sig` names the subject. */
const COSIGN_TAG = /^(sha256|sha512)-([a-f0-9]{64}|[a-f0-9]{128})\.(sig|att|sbom)$/;

interface ManifestNode {
  children: string[];
  blobs: { digest: string; size: number }[];
  size: number;
}

interface RepoState {
  name: string;
  rule?: RetentionRule;
  tags: { tag: string; digest: string; pushedAt: number }[];
  revisions: Map<string, Revision & { pushedAt: number }>;
  usage: RepositoryUsage;
}

export async function planRetention(input: PlanInput): Promise<RetentionPlan> {
  const { repos, policy, now } = input;
  const nodes = new Map<string, ManifestNode | null>();
  const node = async (digest: string, mediaType: string): Promise<ManifestNode | null> => {
    if (nodes.has(digest)) return nodes.get(digest)!;
    const body = await repos.storage.readBlobBuffer(digest);
    let n: ManifestNode | null = null;
    if (body) {
      try {
        const m = parseManifest(body, mediaType);
        n = {
          children: m.children.map((c) => c.digest),
          blobs: m.blobs.filter((b) => !b.urls?.length).map((b) => ({ digest: b.digest, size: b.size })),
          size: body.length,
        };
      } catch {
        n = null;
      }
    }
    nodes.set(digest, n);
    return n;
  };

  const states: RepoState[] = [];
  for (const name of (await repos.listRepositories()).sort()) {
    const revisions = new Map<string, Revision & { pushedAt: number }>();
    for (const d of await repos.listRevisions(name)) {
      const rev = await repos.getRevision(name, d);
      if (!rev) continue;
      revisions.set(d, { ...rev, pushedAt: rev.pushedAt ?? (await repos.revisionMtime(name, d)) ?? now });
    }
    const tags: RepoState['tags'] = [];
    for (const tag of await repos.listTags(name)) {
      const t = await repos.resolveTag(name, tag);
      if (!t) continue;
      const pushedAt =
        t.pushedAt ?? (await repos.storage.statMeta(`repositories/${name}/_manifests/tags/${tag}`))?.mtimeMs ?? now;
      tags.push({ tag, digest: t.digest, pushedAt });
    }
    states.push({ name, rule: policy.ruleFor(name), tags, revisions, usage: await input.usage(name) });
  }

  const plan: RetentionPlan = { tags: [], manifests: [], bytesFreed: 0, blobsFreed: 0 };
  const before = new Map<string, number>(); // blob digest → size, surviving a gc without the run
  const after = new Map<string, number>(); // … and after it

  for (const st of states) {
    const doomed = st.rule ? decideTags(st, st.rule, now) : new Map<string, string>();
    // Referrer tags follow their subject; decided once the other tags are.
    const reach = async (roots: string[]): Promise<Set<string>> => {
      const seen = new Set<string>();
      const queue = [...roots];
      while (queue.length) {
        const d = queue.shift()!;
        if (seen.has(d)) continue;
        const rev = st.revisions.get(d);
        if (!rev) continue;
        seen.add(d);
        const n = await node(d, rev.mediaType);
        if (n) queue.push(...n.children);
        for (const [r, other] of st.revisions) if (other.subject === d) queue.push(r);
      }
      return seen;
    };
    const untaggedCutoff = now - Math.max(input.gracePeriodMs, st.rule?.deleteUntaggedAfterMs ?? 0);
    const young = [...st.revisions].filter(([, r]) => r.pushedAt > untaggedCutoff).map(([d]) => d);
    const isReferrerTag = (t: { tag: string; digest: string }) =>
      COSIGN_TAG.test(t.tag) || st.revisions.get(t.digest)?.subject !== undefined;
    const subjectOf = (t: { tag: string; digest: string }) => {
      const m = COSIGN_TAG.exec(t.tag);
      return m ? `${m[1]}:${m[2]}` : st.revisions.get(t.digest)?.subject;
    };
    const keptPlain = st.tags.filter((t) => !isReferrerTag(t) && !doomed.has(t.tag));
    if (st.rule?.deleteOrphanReferrers) {
      const alive = await reach([...keptPlain.map((t) => t.digest), ...young]);
      for (const t of st.tags) {
        if (!isReferrerTag(t)) continue;
        const subject = subjectOf(t)!;
        if (!alive.has(subject)) doomed.set(t.tag, `referrer of ${subject}, which is gone`);
      }
    }
    for (const t of st.tags) {
      const why = doomed.get(t.tag);
      if (why === undefined) continue;
      plan.tags.push({
        repository: st.name,
        tag: t.tag,
        digest: t.digest,
        pushedAt: t.pushedAt,
        ...(st.usage.pulled[t.digest] !== undefined ? { pulledAt: st.usage.pulled[t.digest] } : {}),
        reason: why,
      });
    }
    // Everything stored now, against what a gc after the run keeps: what tags still reach,
    // plus manifests younger than the untagged cut-off (and what they reference).
    const survivorsBefore = await reach([...st.revisions.keys()]);
    const taggedBefore = await reach(st.tags.map((t) => t.digest));
    const survivorsAfter = await reach([...st.tags.filter((t) => !doomed.has(t.tag)).map((t) => t.digest), ...young]);
    for (const d of survivorsBefore) {
      if (survivorsAfter.has(d)) continue;
      plan.manifests.push({
        repository: st.name,
        digest: d,
        reason: !taggedBefore.has(d)
          ? 'untagged and older than the untagged cut-off'
          : st.tags.some((t) => t.digest === d)
            ? 'its tags are deleted'
            : 'only deleted tags reach it',
      });
    }
    for (const [set, into] of [
      [survivorsBefore, before],
      [survivorsAfter, after],
    ] as const) {
      for (const d of set) {
        const rev = st.revisions.get(d)!;
        const n = await node(d, rev.mediaType);
        into.set(d, n?.size ?? rev.size);
        for (const b of n?.blobs ?? []) into.set(b.digest, b.size);
      }
    }
  }
  for (const [d, size] of before) {
    if (after.has(d)) continue;
    plan.blobsFreed++;
    plan.bytesFreed += size;
  }
  return plan;
}

/** Tags the rule does not keep, with the reason. */
function decideTags(st: RepoState, rule: RetentionRule, now: number): Map<string, string> {
  const doomed = new Map<string, string>();
  if (!hasTagRules(rule)) return doomed;
  const plain = st.tags.filter((t) => !COSIGN_TAG.test(t.tag) && st.revisions.get(t.digest)?.subject === undefined);
  const kept = new Set<string>();
  if (rule.keepLast !== undefined) {
    const newest = [...plain].sort((a, b) => b.pushedAt - a.pushedAt || (a.tag < b.tag ? -1 : 1));
    for (const t of newest.slice(0, rule.keepLast)) kept.add(t.tag);
  }
  const patterns = (rule.keepTags ?? []).map(globMatcher);
  for (const t of plain) {
    if (patterns.some((m) => m(t.tag))) kept.add(t.tag);
    if (rule.keepPushedWithinMs !== undefined && t.pushedAt >= now - rule.keepPushedWithinMs) kept.add(t.tag);
    const pulled = st.usage.pulled[t.digest];
    if (rule.keepPulledWithinMs !== undefined && pulled !== undefined && pulled >= now - rule.keepPulledWithinMs)
      kept.add(t.tag);
  }
  const because = [
    rule.keepLast !== undefined ? `not among the ${rule.keepLast} most recently pushed` : '',
    rule.keepPushedWithinMs !== undefined ? 'not pushed recently' : '',
    rule.keepPulledWithinMs !== undefined ? 'not pulled recently' : '',
    rule.keepTags ? `matches none of ${rule.keepTags.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  for (const t of plain) if (!kept.has(t.tag)) doomed.set(t.tag, because);
  return doomed;
}
