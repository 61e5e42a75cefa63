/**
 * The registry operations every layer speaks of: what a request does (policy, metrics, logs,
 * webhooks) and the action a policy grants for it.
 */

export type Operation =
  | 'ping' // GET /v2/
  | 'catalog'
  | 'tags_list'
  | 'manifest_get'
  | 'manifest_head'
  | 'manifest_put'
  | 'manifest_delete'
  | 'blob_get'
  | 'blob_head'
  | 'blob_delete'
  | 'blob_upload' // POST/PATCH/PUT/GET/DELETE of /blobs/uploads/...
  | 'referrers'
  | 'repository_usage' // GET /v2/<name>/_portcullis/usage and …/usage/tags (portcullis' extension)
  | 'catalog_usage' // GET /v2/_portcullis/usage (portcullis' extension)
  | 'other';

/** The action a policy grants: what the token protocol calls pull, push and delete. */
export type Action = 'pull' | 'push' | 'delete';
