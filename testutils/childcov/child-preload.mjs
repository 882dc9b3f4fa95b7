// Preloaded into the CLI child processes the tests spawn when `npm test` measures coverage (NODE_OPTIONS=--import=…,
// set by setup.ts only when coverage is on). It records V8 block coverage of src/ through the inspector and writes it
// at exit (process.exit, a normal end, a signal handler that exits; not SIGKILL), and its loader hook keeps the code
// tsx produced for each src/ module, which provider.ts needs to map that coverage back to the .ts lines.
import { Session } from 'node:inspector';
import * as nodeModule from 'node:module';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { URL, fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';

const dir = process.env.ONEDUMP_CHILD_COVERAGE_DIR;
// Only children that load tsx run src/: `node --import tsx …`, or node_modules/.bin/tsx, which starts node with
// `--import file:///…/tsx/dist/loader.mjs` (not the vitest workers, s3rver or the bench generators).
const tsxImport = process.execArgv
  .map((a, i, all) => (a.startsWith('--import=') ? a.slice('--import='.length) : all[i - 1] === '--import' ? a : undefined))
  .find((v) => v === 'tsx' || /\/tsx\/dist\/loader\.m?js$/.test(v ?? ''));
if (dir && isMainThread && tsxImport) {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const srcPrefix = pathToFileURL(join(root, 'src')).href + '/';
  // tsx first, so that the capture hook registered next runs outside it and sees the JavaScript it made. The child's
  // own `--import tsx` then finds the module already loaded.
  await import(tsxImport);
  // The same kind of hook as tsx's: in-thread where Node has module.registerHooks (tsx uses it there), else off-thread.
  const data = { dir: join(dir, 'sources'), srcPrefix };
  if (typeof nodeModule.registerHooks === 'function') {
    const hooks = await import('./capture-hooks.mjs');
    hooks.initialize(data);
    nodeModule.registerHooks({ load: hooks.loadSync });
  } else {
    nodeModule.register('./capture-hooks.mjs', import.meta.url, { data });
  }
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  process.on('exit', () => {
    // An in-thread inspector session answers synchronously, so this works in an exit handler.
    session.post('Profiler.takePreciseCoverage', (err, res) => {
      if (err || !res) return;
      const result = res.result.filter((s) => s.url.startsWith(srcPrefix));
      if (result.length) writeFileSync(join(dir, `child-${process.pid}-${Date.now()}.json`), JSON.stringify({ result }));
    });
  });
}
