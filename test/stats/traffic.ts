/**
 * Known registry traffic for the stats tests, sent through the harness like real clients
 * would: a push (blob upload POST/PATCH/PUT, then the manifest PUT) and a pull (manifest
 * GET, then the blob GET).
 */
import { get } from './harness.js';

export async function simulatePush(base: string, repository: string, tag: string, opts: { user?: string; client?: string; layerBytes?: number } = {}): Promise<void> {
  const headers: Record<string, string> = { 'user-agent': opts.client ?? 'docker/27.1.0 go/go1.22', ...(opts.user ? { 'x-test-user': opts.user } : {}) };
  const layer = Buffer.alloc(opts.layerBytes ?? 300_000, 7);
  await get(base, `/v2/${repository}/blobs/uploads/`, headers, 'POST');
  await get(base, `/v2/${repository}/blobs/uploads/session1`, headers, 'PATCH', layer);
  await get(base, `/v2/${repository}/blobs/uploads/session1?digest=sha256:aa`, headers, 'PUT');
  await get(base, `/v2/${repository}/manifests/${tag}`, headers, 'PUT', '{"schemaVersion":2}');
}

export async function simulatePull(base: string, repository: string, tag: string, opts: { user?: string; client?: string; layerBytes?: number } = {}): Promise<void> {
  const headers: Record<string, string> = { 'user-agent': opts.client ?? 'containerd/1.7.12', ...(opts.user ? { 'x-test-user': opts.user } : {}) };
  await get(base, `/v2/${repository}/manifests/${tag}?size=500`, headers);
  await get(base, `/v2/${repository}/blobs/sha256:aa?size=${opts.layerBytes ?? 200_000}`, headers);
}
