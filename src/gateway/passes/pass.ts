/**
 * A pass is one step of the gateway's pipeline (http-proxy-3's passes, undici's interceptors):
 * a small function that looks at the request and either answers it, which ends the pipeline,
 * or lets the next pass run. Passes for features that are off are simply not in the list.
 */
import type { RequestContext } from '../context.js';

/** The pass wrote (or is writing) the answer: no later pass runs. */
export const ANSWERED = true;
/** The pass is done with the request and the next one runs. */
export const NEXT = false;

export type Pass = (ctx: RequestContext) => boolean | Promise<boolean>;

/** Run passes in order until one answers. */
export async function runPasses(passes: readonly Pass[], ctx: RequestContext): Promise<void> {
  for (const pass of passes) if (await pass(ctx)) return;
}
