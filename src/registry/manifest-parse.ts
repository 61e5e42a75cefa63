/**
 * Manifest validation on push (distribution-spec "Pushing Manifests"; image-spec manifest.md,
 * image-index.md, descriptor.md; Docker Image Manifest V2 Schema 2).
 */
import { RegistryError } from '../oci/errors.js';
import { parseDigest } from '../oci/digest.js';
import {
  bareMediaType,
  DOCKER_SCHEMA1,
  MANIFEST_KINDS,
  OCI_INDEX,
  OCI_MANIFEST,
  type ManifestKind,
} from './media-types.js';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface ParsedManifest {
  mediaType: string;
  kind: ManifestKind;
  /** config + layers (image manifests). */
  blobs: Descriptor[];
  /** child manifests (indexes). */
  children: Descriptor[];
  subject?: Descriptor;
  artifactType?: string;
  configMediaType?: string;
  annotations?: Record<string, string>;
}

function invalid(message: string, detail?: unknown): RegistryError {
  return new RegistryError('MANIFEST_INVALID', message, detail);
}

function descriptor(v: unknown, where: string): Descriptor {
  const d = v as Partial<Descriptor> | null;
  if (!d || typeof d !== 'object') throw invalid(`${where}: not a descriptor`);
  if (typeof d.mediaType !== 'string' || !d.mediaType) throw invalid(`${where}: mediaType missing`);
  if (typeof d.digest !== 'string' || !parseDigest(d.digest))
    throw invalid(`${where}: invalid digest`, { digest: d.digest ?? null });
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0)
    throw invalid(`${where}: invalid size`);
  return d as Descriptor;
}

export function parseManifest(body: Buffer, contentType: string | undefined): ParsedManifest {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw invalid('manifest is not valid JSON');
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw invalid('manifest is not a JSON object');
  const ct = bareMediaType(contentType);
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  if (doc.schemaVersion === 1 || DOCKER_SCHEMA1.includes(ct) || (declared && DOCKER_SCHEMA1.includes(declared))) {
    throw invalid('Docker schema 1 manifests are not supported: push with a current client (schema 2 or OCI)', {
      schemaVersion: 1,
    });
  }
  if (doc.schemaVersion !== 2) throw invalid('schemaVersion must be 2');
  // Content-Type MUST equal the manifest's mediaType when the manifest has one.
  if (declared && ct && ct !== declared && ct !== 'application/json' && ct !== 'application/octet-stream') {
    throw invalid('Content-Type does not match the manifest mediaType', { contentType: ct, mediaType: declared });
  }
  let mediaType = declared ?? (MANIFEST_KINDS[ct] ? ct : undefined);
  // OCI manifests MAY omit mediaType: tell them apart by shape.
  if (!mediaType) mediaType = Array.isArray(doc.manifests) ? OCI_INDEX : OCI_MANIFEST;
  const kind = MANIFEST_KINDS[mediaType];
  if (!kind) throw invalid(`unsupported manifest media type ${mediaType}`, { mediaType });

  const out: ParsedManifest = { mediaType, kind, blobs: [], children: [] };
  if (kind === 'manifest') {
    const config = descriptor(doc.config, 'config');
    if (!Array.isArray(doc.layers)) throw invalid('layers must be an array');
    out.blobs = [config, ...doc.layers.map((l, i) => descriptor(l, `layers[${i}]`))];
    out.configMediaType = config.mediaType;
  } else {
    if (!Array.isArray(doc.manifests)) throw invalid('manifests must be an array');
    out.children = doc.manifests.map((m, i) => descriptor(m, `manifests[${i}]`));
  }
  if (doc.subject !== undefined) out.subject = descriptor(doc.subject, 'subject');
  if (typeof doc.artifactType === 'string') out.artifactType = doc.artifactType;
  if (doc.annotations && typeof doc.annotations === 'object')
    out.annotations = doc.annotations as Record<string, string>;
  return out;
}
