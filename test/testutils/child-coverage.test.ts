import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI_ENTRY, ROOT } from '../../testutils/cli.js';

// The preload that `npm test` (vitest --coverage) gives every CLI child: coverage of src/ at exit, and tsx's code.
const PRELOAD = join(ROOT, 'testutils', 'childcov', 'child-preload.mjs');

describe('child-process coverage (testutils/childcov)', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const run = (args: string[]) => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-childcov-'));
    dirs.push(dir);
    const r = spawnSync(process.execPath, ['--import', 'tsx', CLI_ENTRY, ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, ONEDUMP_CHILD_COVERAGE_DIR: dir, NODE_OPTIONS: `--import=${PRELOAD}` },
    });
    return { r, dir };
  };

  it('writes the src/ coverage of a child that exits with process.exitCode, with the code tsx made of each module', () => {
    const { r, dir } = run(['config', 'validate', join(ROOT, 'test/fixtures/go-configs/readme-local.yml')]);
    expect(r.status).toBe(0);
    const covFiles = readdirSync(dir).filter((f) => f.startsWith('child-'));
    expect(covFiles).toHaveLength(1);
    const { result } = JSON.parse(readFileSync(join(dir, covFiles[0]!), 'utf8')) as { result: { url: string; functions: unknown[] }[] };
    const srcPrefix = pathToFileURL(join(ROOT, 'src')).href + '/';
    // Only src/ (no node_modules, no tsx), and the modules of this command are there.
    expect(result.every((s) => s.url.startsWith(srcPrefix))).toBe(true);
    const main = result.find((s) => s.url === pathToFileURL(CLI_ENTRY).href);
    expect(main?.functions.length).toBeGreaterThan(0);
    expect(result.some((s) => s.url.endsWith('/src/config/load.ts'))).toBe(true);
    // The captured code is JavaScript (no type annotations left) carrying its source map back to the .ts.
    const load = result.find((s) => s.url.endsWith('/src/config/load.ts'))!;
    const captured = JSON.parse(readFileSync(join(dir, 'sources', `${createHash('sha1').update(load.url).digest('hex')}.js`), 'utf8')) as { url: string; code: string };
    expect(captured.url).toBe(load.url);
    expect(captured.code).toMatch(/\/\/# sourceMappingURL=data:application\/json;base64,/);
    expect(captured.code).not.toMatch(/\binterface\s+\w+\s*\{/);
  });

  it('writes nothing for a process that does not load tsx, and leaves the child output unchanged', () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-childcov-'));
    dirs.push(dir);
    const r = spawnSync(process.execPath, ['-e', 'console.log("plain")'], {
      encoding: 'utf8',
      env: { ...process.env, ONEDUMP_CHILD_COVERAGE_DIR: dir, NODE_OPTIONS: `--import=${PRELOAD}` },
    });
    expect(r.stdout).toBe('plain\n');
    expect(r.stderr).toBe('');
    expect(readdirSync(dir)).toEqual([]);
    const withTsx = run(['--version']);
    expect(withTsx.r.stderr).toBe('');
    expect(withTsx.r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
