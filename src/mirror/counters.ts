/** What each mirror has done since start, for /metrics and the dashboard. */
export interface MirrorCounters {
  prefix: string;
  remote: string;
  /** Requests answered from the cache (blobs, manifests, fresh or revalidated tags). */
  hits: number;
  /** Requests that had to fetch content from the remote. */
  misses: number;
  /** Bytes received from the remote (blob and manifest bodies). */
  bytesFromRemote: number;
  /** Cached tags served while the remote was down or rate-limiting. */
  staleServes: number;
  /** Bytes of blobs only this mirror's repositories hold (measured periodically). */
  cacheBytes: number;
}

export function newCounters(prefix: string, remote: string): MirrorCounters {
  return { prefix, remote, hits: 0, misses: 0, bytesFromRemote: 0, staleServes: 0, cacheBytes: 0 };
}
