/**
 * Push an OCI artifact that refers to an image (an SBOM, a signature) the way oras and cosign
 * do, over the plain registry API: its blob, the empty config, then a manifest with `subject`
 * put by digest. With `tagSchema` it also updates the referrers tag (`sha256-<hex>` of the
 * subject, an index of its referrers), which clients write to registries without the referrers
 * API (registry:2 2.8).
 */
import { createHash } from 'node:crypto';
import { fetchInsecure } from './processes.js';

export interface Subject {
  mediaType: string;
  digest: string;
  size: number;
}

const EMPTY = Buffer.from('{}');
const EMPTY_TYPE = 'application/vnd.oci.empty.v1+json';
const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';
const INDEX_TYPE = 'application/vnd.oci.image.index.v1+json';

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function call(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: Buffer },
  auth: Record<string, string>,
  want: number[],
) {
  const r = await fetchInsecure(url, { ...init, headers: { ...auth, ...init.headers } });
  if (!want.includes(r.status)) throw new Error(`${init.method ?? 'GET'} ${url}: ${r.status} ${r.body}`);
  return r;
}

async function pushBlob(base: string, repo: string, data: Buffer, auth: Record<string, string>): Promise<string> {
  const digest = sha256(data);
  const start = await call(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' }, auth, [202]);
  const location = new URL(String(start.headers.location), base);
  location.searchParams.set('digest', digest);
  await call(
    location.href,
    { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: data },
    auth,
    [201],
  );
  return digest;
}

export async function pushReferrer(
  base: string,
  repo: string,
  subject: Subject,
  opts: {
    artifactType: string;
    content: Buffer;
    layerType: string;
    created: string;
    authorization?: string;
    tagSchema?: boolean;
  },
): Promise<Subject & { artifactType: string }> {
  const auth: Record<string, string> = opts.authorization ? { authorization: opts.authorization } : {};
  const layer = await pushBlob(base, repo, opts.content, auth);
  const empty = await pushBlob(base, repo, EMPTY, auth);
  const annotations = { 'org.opencontainers.image.created': opts.created };
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_TYPE,
      artifactType: opts.artifactType,
      config: { mediaType: EMPTY_TYPE, digest: empty, size: EMPTY.length },
      layers: [{ mediaType: opts.layerType, digest: layer, size: opts.content.length }],
      subject,
      annotations,
    }),
  );
  const digest = sha256(body);
  await call(
    `${base}/v2/${repo}/manifests/${digest}`,
    { method: 'PUT', headers: { 'content-type': MANIFEST_TYPE }, body },
    auth,
    [201],
  );
  const desc = { mediaType: MANIFEST_TYPE, digest, size: body.length, artifactType: opts.artifactType, annotations };
  if (opts.tagSchema) {
    const tag = subject.digest.replace(':', '-');
    const old = await fetchInsecure(`${base}/v2/${repo}/manifests/${tag}`, {
      headers: { ...auth, accept: INDEX_TYPE },
    });
    const manifests = old.status === 200 ? (JSON.parse(old.body) as { manifests: unknown[] }).manifests : [];
    const index = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: INDEX_TYPE, manifests: [...manifests, desc] }),
    );
    await call(
      `${base}/v2/${repo}/manifests/${tag}`,
      { method: 'PUT', headers: { 'content-type': INDEX_TYPE }, body: index },
      auth,
      [201],
    );
  }
  return { mediaType: MANIFEST_TYPE, digest, size: body.length, artifactType: opts.artifactType };
}
