/** The last pass: the backend (an upstream registry or the embedded core) answers. */
import type { Backend } from '../../backends/backend.js';
import { ANSWERED, type Pass } from './pass.js';

export function toBackend(backend: Backend): Pass {
  return async (ctx) => {
    await backend.handle(ctx);
    return ANSWERED;
  };
}
