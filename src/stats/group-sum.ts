/** A group's connection counters: each field summed over its workers, as nginx sums its worker processes. */
import type { ConnectionSnapshot } from './connection-tracker.js';
import type { GroupView } from './types.js';

export function sumSnapshots(all: ConnectionSnapshot[]): ConnectionSnapshot {
  const out: ConnectionSnapshot = {
    active: 0,
    reading: 0,
    writing: 0,
    waiting: 0,
    accepted: 0,
    handled: 0,
    requests: 0,
  };
  for (const s of all) for (const k of Object.keys(out) as (keyof ConnectionSnapshot)[]) out[k] += s[k];
  return out;
}

/**
 * The group's counters as /nginx_status and /_status show them: the live workers summed, plus
 * what the workers that died had counted (accepts, handled and requests never go backwards).
 */
export function groupTotals(view: GroupView): ConnectionSnapshot {
  const out = sumSnapshots(view.workers.map((w) => w.connections));
  out.accepted += view.retired.accepted;
  out.handled += view.retired.handled;
  out.requests += view.retired.requests;
  return out;
}
