#!/usr/bin/env node
// The program's entry point (bin/onedump.js, bundles and the single executable).
import { main } from './main.js';

// `onedump … | head`: a reader that stops early is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

void main();
