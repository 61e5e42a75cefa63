/**
 * GET/HEAD/PUT/DELETE /v2/<name>/manifests/<reference> (distribution-spec "Pulling manifests",
 * "Pushing Manifests", "Deleting tags", "Deleting Manifests").
 */
import { RegistryError } from '../../oci/errors.js';
import type { CoreContext } from '../context.js';
import { digestOf } from '../../oci/digest.js';
import { readBody, send } from '../http.js';
import { parseManifest } from '../manifest-parse.js';
import { BROWSE_HEADER } from '../../oci/browse-header.js';
import { parseReference, readReference } from '../../oci/names.js';
import type { RequestInfo } from '../routes.js';
import type { Revision } from '../repository.js';

/** "Clients and registries SHOULD expect to support manifest uploads of at least 4 MiB." */
export const MANIFEST_LIMIT = 4 << 20;

async function unknown(ctx: CoreContext, name: string, reference: string): Promise<RegistryError> {
  // A repository that does not exist MUST give 404 too; say which 404 it is.
  if (!(await ctx.repos.exists(name)))
    return new RegistryError('NAME_UNKNOWN', 'repository name not known to registry', { name });
  return new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown', { name, reference });
}

export async function getManifest(ctx: CoreContext, r: RequestInfo): Promise<void> {
  const ref = readReference(r.ref);
  if (!ref) throw await unknown(ctx, r.name, r.ref);
  // Tags are read fresh every time: another process sharing the storage may move them.
  let digest: string | undefined;
  let rev: Revision | null = null;
  if (ref.tag !== undefined) {
    const t = await ctx.repos.resolveTag(r.name, ref.tag);
    digest = t?.digest;
    rev = t?.revision ?? (digest ? await ctx.repos.getRevision(r.name, digest) : null);
  } else {
    digest = ref.digest.digest;
    rev = await ctx.repos.getRevision(r.name, digest);
  }
  if (!digest || !rev) throw await unknown(ctx, r.name, r.ref);
  const headers = {
    // Content-Type is the media type the manifest was pushed with, without parameters.
    'content-type': rev.mediaType,
    'docker-content-digest': digest,
    etag: `"${digest}"`,
  };
  if (r.method === 'HEAD') return send(r.res, 200, { ...headers, 'content-length': rev.size });
  let body = ctx.manifests.get(digest);
  if (!body) {
    const read = await ctx.storage.readBlobBuffer(digest);
    if (!read) throw await unknown(ctx, r.name, r.ref);
    body = read;
    ctx.manifests.set(digest, body);
  }
  if (r.req.headers[BROWSE_HEADER] === undefined) ctx.usage?.notePull(r.name, digest);
  send(r.res, 200, headers, body);
}

export async function putManifest(ctx: CoreContext, r: RequestInfo): Promise<void> {
  const ref = parseReference(r.ref);
  const body = await readBody(r.req, MANIFEST_LIMIT, 'manifest');
  const m = parseManifest(body, r.req.headers['content-type']);
  const digest = digestOf(body, ref.digest?.algorithm ?? 'sha256');
  if (ref.digest && ref.digest.digest !== digest) {
    throw new RegistryError('DIGEST_INVALID', 'manifest digest does not match the reference', {
      expected: ref.digest.digest,
      actual: digest,
    });
  }

  // "A registry MAY reject a manifest ... that reference blobs or manifests that do not exist
  // in the repository ... MUST return MANIFEST_BLOB_UNKNOWN". The subject is exempt: it MAY
  // be pushed after its referrers.
  const missing: string[] = [];
  for (const b of m.blobs) {
    if (b.urls?.length) continue; // foreign (non-distributable) layer, served elsewhere
    const present = (await ctx.repos.hasBlob(r.name, b.digest)) ? await ctx.storage.statBlob(b.digest) : null;
    if (!present) missing.push(b.digest);
    else if (present.size !== b.size)
      throw new RegistryError('MANIFEST_INVALID', 'descriptor size does not match the blob', {
        digest: b.digest,
        size: b.size,
        actual: present.size,
      });
  }
  for (const c of m.children) {
    if (!(await ctx.repos.getRevision(r.name, c.digest))) missing.push(c.digest);
  }
  if (missing.length)
    throw new RegistryError(
      'MANIFEST_BLOB_UNKNOWN',
      'manifest references blobs or manifests unknown to the repository',
      { missing },
    );

  // Refresh what this manifest references, so a concurrent gc's grace period protects it.
  for (const b of m.blobs) await ctx.storage.touchBlob(b.digest);

  await ctx.storage.putBlob(digest, body);
  ctx.manifests.set(digest, body);
  await ctx.repos.linkBlob(r.name, digest);
  const revision: Revision = {
    mediaType: m.mediaType,
    size: body.length,
    ...(m.subject ? { subject: m.subject.digest } : {}),
    pushedAt: ctx.repos.now(),
  };
  await ctx.repos.putRevision(r.name, digest, revision);
  if (m.subject) {
    // Referrers API: artifactType, else the config media type for image manifests (never for indexes).
    const artifactType = m.artifactType ?? (m.kind === 'manifest' ? m.configMediaType : undefined);
    await ctx.repos.putReferrer(r.name, m.subject.digest, {
      mediaType: m.mediaType,
      digest,
      size: body.length,
      ...(artifactType ? { artifactType } : {}),
      ...(m.annotations ? { annotations: m.annotations } : {}),
    });
  }
  if (ref.tag !== undefined) await ctx.repos.putTag(r.name, ref.tag, digest, revision);
  ctx.usage?.notePush(r.name);

  const headers: Record<string, string> = {
    location: `/v2/${r.name}/manifests/${digest}`,
    'docker-content-digest': digest,
  };
  // "Pushing a manifest with a subject field": OCI-Subject tells the client we indexed it.
  if (m.subject) headers['oci-subject'] = m.subject.digest;
  send(r.res, 201, headers);
}

export async function deleteManifest(ctx: CoreContext, r: RequestInfo): Promise<void> {
  const ref = parseReference(r.ref);
  if (ref.tag !== undefined) {
    // Deleting a tag removes only the tag; the manifest stays reachable by digest.
    if (!(await ctx.repos.deleteTag(r.name, ref.tag))) throw await unknown(ctx, r.name, r.ref);
    return send(r.res, 202);
  }
  const digest = ref.digest.digest;
  const rev = await ctx.repos.getRevision(r.name, digest);
  if (!rev) throw await unknown(ctx, r.name, r.ref);
  await ctx.repos.deleteRevision(r.name, digest);
  // "Once deleted, a GET to ... any tag pointing to that digest will return a 404."
  for (const tag of await ctx.repos.listTags(r.name)) {
    if ((await ctx.repos.getTag(r.name, tag)) === digest) await ctx.repos.deleteTag(r.name, tag);
  }
  if (rev.subject) await ctx.repos.deleteReferrer(r.name, rev.subject, digest);
  send(r.res, 202);
}
