/**
 * The header the repository browser (/-/ui) puts on the manifest reads it makes to show an
 * image. Looking at an image is not pulling it: the core records no pull time for such a read,
 * so browsing never keeps a tag alive under a retention rule like "keep tags pulled within 30d".
 * A client that sends it only makes its own reads invisible to that rule, which it could do as
 * well by not pulling; it grants nothing.
 */
export const BROWSE_HEADER = 'x-portcullis-browse';
