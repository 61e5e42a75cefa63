/** GET /v2/<name>/referrers/<digest> (distribution-spec "Listing Referrers", end-12a/12b). */
import { requireDigest } from '../../oci/digest.js';
import { sendJson } from '../http.js';
import type { CoreContext } from '../context.js';
import { OCI_INDEX } from '../media-types.js';
import type { RequestInfo } from '../routes.js';

export async function listReferrers(ctx: CoreContext, r: RequestInfo): Promise<void> {
  // An invalid digest MUST give 400; an unknown one an empty index (never 404).
  const { digest } = requireDigest(r.ref);
  let manifests = await ctx.repos.listReferrers(r.name, digest);
  const headers: Record<string, string> = { 'content-type': OCI_INDEX };
  const artifactType = r.query.get('artifactType');
  if (artifactType) {
    manifests = manifests.filter((m) => m.artifactType === artifactType);
    // "Filtering by artifactType": the response MUST say the filter was applied.
    headers['oci-filters-applied'] = 'artifactType';
  }
  sendJson(r.res, 200, { schemaVersion: 2, mediaType: OCI_INDEX, manifests }, headers);
}
