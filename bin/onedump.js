#!/usr/bin/env node
// V8 runs a stream of fresh Buffers (dump statements, socket reads, SSH packets) best with
// --initial-old-space-size=96 --max-semi-space-size=4 (development.md, DESIGN-notes). They are not on this
// shebang: `env -S` is GNU and BSD only (BusyBox env on Alpine refuses it, and the command would not start at all),
// and V8 refuses the first in NODE_OPTIONS. The single executable and the Docker image pass them; from npm,
// `node --initial-old-space-size=96 --max-semi-space-size=4 "$(command -v onedump)" …` does.
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
