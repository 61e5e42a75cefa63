/**
 * The storage given to the core cannot be used (unreachable, unwritable, or a setting it does
 * not support). Thrown at start-up only; the caller knows which option named the storage.
 */
export class StorageUnusable extends Error {
  constructor(
    /** Which part of the storage options is at fault: the location itself, or the blob redirects. */
    readonly setting: 'location' | 'redirect',
    message: string,
  ) {
    super(message);
    this.name = 'StorageUnusable';
  }
}
