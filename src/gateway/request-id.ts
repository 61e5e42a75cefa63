/**
 * Request ids for the access log, errors and notifications: a random prefix drawn when the
 * process starts (72 bits, so ids stay unique across workers and restarts) and a counter, which
 * costs a string concatenation per request instead of a random UUID.
 */
import { randomBytes } from 'node:crypto';

const PREFIX = randomBytes(9).toString('base64url');
let counter = 0;

export function newRequestId(): string {
  counter++;
  return `${PREFIX}-${counter.toString(36)}`;
}
