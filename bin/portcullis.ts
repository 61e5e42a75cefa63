#!/usr/bin/env -S node --max-semi-space-size=4
// The flag above caps V8's young generation at 4 MiB per semi-space. Under Node's default (16 MiB)
// it grows with every burst of concurrent requests and stays resident: about 20 MiB more after a
// burst, more again during a large transfer. The price: garbage collection takes 0.5-3.3 points
// more of a small request's CPU (bench/README.md). docs/configuration.md ("Memory") says how to
// choose another size; bench/lib/targets.js starts the benchmarked server with these same flags.
import { main } from '../src/cli/main.js';

main().catch((err: Error) => {
  process.stderr.write(`portcullis: ${err.message}\n`);
  process.exit(1);
});
