#!/usr/bin/env -S MALLOC_ARENA_MAX=1 node --max-semi-space-size=4
// The flag above caps V8's young generation at 4 MiB per semi-space. Under Node's default (16 MiB)
// it grows with every burst of concurrent requests and stays resident: about 20 MiB more after a
// burst, more again during a large transfer. The price: garbage collection takes 0.5-3.3 points
// more of a small request's CPU (bench/README.md). docs/configuration.md ("Memory") says how to
// choose another size; bench/lib/targets.js starts the benchmarked server with these same flags.
// MALLOC_ARENA_MAX=1 keeps glibc's malloc to one arena: by default each thread that allocates
// (V8's helper threads, the libuv pool thread that checks a bcrypt password) gets its own, each
// with free memory of its own, ~0.5-0.9 MiB at idle in all; the threads allocate little, so
// sharing one lock costs nothing measurable (bench/README.md).
import { setFlagsFromString } from 'node:v8';

// V8 reads the flag once, when it sizes the heap at start-up; from then on its only effect is
// that node refuses the compiled code it ships for its own modules (http, tls, streams, ...):
// that cache is checked against a hash of every V8 flag that differs from its default, so each
// of those modules would be compiled again from source, which leaves ~0.5 MiB more resident at
// idle and makes start-up slower. Setting the flag back to its default here, before the server's
// modules are loaded, keeps the heap as sized and lets the cache be used. Workers started with
// --workers still get the flag: they inherit the command line (process.execArgv), not this call.
setFlagsFromString('--max-semi-space-size=0');

// Imported only now: a static import would load the whole server (and node's modules it needs)
// before the line above runs.
const { main } = await import('../src/cli/main.js');

main().catch((err: Error) => {
  process.stderr.write(`portcullis: ${err.message}\n`);
  process.exit(1);
});
