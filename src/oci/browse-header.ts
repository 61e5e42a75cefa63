/**
 * The header the repository browser (/-/ui) puts on the manifest and image config reads it
 * makes to show an image. Looking at an image is not pulling it: the core records no pull time
 * for such a read, so browsing never keeps a tag alive under a retention rule like "keep tags
 * pulled within 30d". And the page may only talk to its own origin, so under --storage-redirect
 * the core answers a small blob read carrying it itself instead of redirecting to the bucket.
 * A client that sends it only makes its own reads invisible to that rule, which it could do as
 * well by not pulling, or has a small blob served by the gateway as without redirects; it
 * grants nothing.
 */
export const BROWSE_HEADER = 'x-portcullis-browse';
