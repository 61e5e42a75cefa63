/** A group's connection counters: each field summed over its workers, as nginx sums its worker processes. */
import type { ConnectionSnapshot } from './connection-tracker.js';

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
