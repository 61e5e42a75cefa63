#!/usr/bin/env node
import { main } from '../src/cli/main.js';

main().catch((err: Error) => {
  process.stderr.write(`portcullis: ${err.message}\n`);
  process.exit(1);
});
