/**
 * The fixed label vocabularies of the metrics: registry operations and HTTP methods.
 * Fixed lists bound the series count and let record() index arrays instead of hashing.
 */
import type { Operation } from '../oci/operations.js';

export const OPERATIONS = [
  'ping',
  'catalog',
  'tags_list',
  'manifest_get',
  'manifest_head',
  'manifest_put',
  'manifest_delete',
  'blob_get',
  'blob_head',
  'blob_delete',
  'blob_upload',
  'referrers',
  'repository_usage',
  'catalog_usage',
  'other',
] as const satisfies readonly Operation[];

// Compile-time guard: adding an Operation in gateway/route.ts without listing it here fails the build.
type Unlisted = Exclude<Operation, (typeof OPERATIONS)[number]>;
const exhaustive: [Unlisted] extends [never] ? true : never = true;
void exhaustive;

const OTHER_OPERATION = OPERATIONS.indexOf('other');
const OPERATION_INDEX: Record<string, number> = Object.create(null);
for (const [i, op] of OPERATIONS.entries()) OPERATION_INDEX[op] = i;

export function operationIndex(op: string): number {
  return OPERATION_INDEX[op] ?? OTHER_OPERATION;
}

/** Methods a registry client sends; anything else is reported as OTHER. */
export const METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE', 'OPTIONS', 'OTHER'] as const;
const OTHER_METHOD = METHODS.length - 1;

export function methodIndex(method: string): number {
  switch (method) {
    case 'GET':
      return 0;
    case 'HEAD':
      return 1;
    case 'PUT':
      return 2;
    case 'POST':
      return 3;
    case 'PATCH':
      return 4;
    case 'DELETE':
      return 5;
    case 'OPTIONS':
      return 6;
    default:
      return OTHER_METHOD;
  }
}
