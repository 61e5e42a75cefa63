/**
 * When a mirrored manifest was last pulled, for least-recently-pulled eviction. Kept as a small
 * document beside the repository's own metadata (a `_`-prefixed child, which repository
 * listings skip), so it is shared by every instance on the storage and survives restarts.
 */
import { parseDigest } from '../oci/digest.js';

export function pullRecordPrefix(repo: string): string {
  return `repositories/${repo}/_mirror_pulls`;
}

export function pullRecordKey(repo: string, digest: string): string {
  const d = parseDigest(digest);
  if (!d) throw new Error(`not a digest: ${digest}`); // callers pass checked digests only
  return `${pullRecordPrefix(repo)}/${d.algorithm}/${d.hex}`;
}
