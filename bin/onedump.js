#!/usr/bin/env -S node --initial-old-space-size=96
// --initial-old-space-size: with V8's default initial old-generation limit, a stream of fresh Buffers (dump
// statements, socket reads, SSH packets) could put V8 into a full mark-compact every few tens of milliseconds
// (--trace-gc: "GC in old space requested" on a 20 MB heap) for the rest of the run: +2 s of CPU per GB dumped,
// half the SFTP upload speed. A larger initial limit keeps it out of that state (docs/development.md). The flag
// is refused in NODE_OPTIONS, and `node bin/onedump.js` runs without it.
// Runs the compiled CLI (npm run build); falls back to the TypeScript sources through tsx in a checkout.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import module from 'node:module';

// Node ≥ 22.1 keeps compiled code between runs (in the OS temp folder): start-up drops by about a third.
module.enableCompileCache?.();

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'cli', 'onedump.js');
if (existsSync(built)) {
  await import(pathToFileURL(built).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(root, 'src', 'cli', 'onedump.ts')).href);
}
