/**
 * Repository names, tags and upload ids (distribution-spec "Pulling manifests": `<name>`, `<reference>`).
 *
 * Names are checked in their raw (undecoded) form: an encoded slash or dot can never produce a
 * repository name, and the raw URL is what gets forwarded and what becomes a storage key.
 */
import { RegistryError } from './errors.js';
import { parseDigest, type ParsedDigest } from './digest.js';

/** The spec's name grammar: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`. */
const NAME = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*)*';
export const REPOSITORY_NAME = new RegExp(`^${NAME}$`);

/** The spec's tag grammar: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`. */
export const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
export const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Raw (undecoded) repository name: the spec regex, and under 256 characters in total. */
export function isRepositoryName(name: string): boolean {
  return name.length < 256 && REPOSITORY_NAME.test(name);
}

export function requireRepositoryName(name: string): string {
  if (!isRepositoryName(name)) throw new RegistryError('NAME_INVALID', 'invalid repository name', { name });
  return name;
}

export type Reference = { tag: string; digest?: undefined } | { digest: ParsedDigest; tag?: undefined };

/** A manifest reference is a tag or a digest; nothing else is allowed in a push or a delete. */
export function parseReference(ref: string): Reference {
  const d = parseDigest(ref);
  if (d) return { digest: d };
  if (ref.includes(':'))
    throw new RegistryError('DIGEST_INVALID', 'invalid digest: only sha256 and sha512 digests are supported', {
      reference: ref,
    });
  if (!TAG.test(ref)) throw new RegistryError('TAG_INVALID', 'invalid tag', { reference: ref });
  return { tag: ref };
}

/**
 * The reference of a read (GET/HEAD), or null when it is neither a tag nor a digest: a manifest
 * under a name that can never exist is simply not found (404), as the conformance suite and
 * registry:2 have it, rather than a malformed request.
 */
export function readReference(ref: string): Reference | null {
  const d = parseDigest(ref);
  if (d) return { digest: d };
  return TAG.test(ref) ? { tag: ref } : null;
}
