import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../testutils/cli.js';

// scripts/release.sh on a temporary clone of this repository: the version from the tag, refusals, the stamped
// package (npm pack) with its contents and `--version`, the SBOM and SHA256SUMS. The single executable (Node 24,
// minutes) and the `npm install -g` check (the npm registry) are left to the script's full run (.ci/run, the
// release itself); --quick-build compiles with esbuild instead of tsc (~50 s here).

const SCRIPT = join(ROOT, 'scripts', 'release.sh');
let work: string;
let repo: string;

function release(args: string[], cwd = repo) {
  return spawnSync('bash', [SCRIPT, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
}
const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim();

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'onedump-release-'));
  repo = join(work, 'repo');
  execFileSync('git', ['clone', '--quiet', '--no-hardlinks', ROOT, repo]);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('scripts/release.sh', () => {
  it("a checkout prints package.json's version (src/version.ts is kept in step; releases stamp the tag's)", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(readFileSync(join(ROOT, 'src', 'version.ts'), 'utf8')).toContain(`export const VERSION = '${pkg.version}';`);
  });

  it('refuses an untagged HEAD and a dirty tree (exit 2, one sentence), and an unknown option', () => {
    const untagged = release(['--no-binary', '--no-install-check', '--quick-build', '--out', join(work, 'none')]);
    expect(untagged.status).toBe(2);
    expect(untagged.stderr).toMatch(
      /^release: HEAD \([0-9a-f]+\) has no vX\.Y\.Z tag; tag it \(git tag v1\.2\.3\) or build with --snapshot\n$/,
    );
    git('tag', 'v1.2.3');
    writeFileSync(join(repo, 'README.md'), readFileSync(join(repo, 'README.md'), 'utf8') + '\nchanged\n');
    const dirty = release(['--no-binary', '--no-install-check', '--quick-build', '--out', join(work, 'none')]);
    expect(dirty.status).toBe(2);
    expect(dirty.stderr).toMatch(/uncommitted changes to tracked files; commit or stash them, or build with --snapshot/);
    expect(existsSync(join(work, 'none'))).toBe(false);
    git('checkout', '--', 'README.md');
    expect(release(['--frobnicate']).status).toBe(2);
  });

  it('a tagged tree: onedump-1.2.3.tgz that prints 1.2.3, its SBOM and SHA256SUMS; the checkout untouched', () => {
    const out = join(work, 'out');
    const r = release(['--no-binary', '--no-install-check', '--quick-build', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['SHA256SUMS', 'onedump-1.2.3.cdx.json', 'onedump-1.2.3.tgz']);
    // The sums are of the artifacts, and check.
    expect(readFileSync(join(out, 'SHA256SUMS'), 'utf8')).toMatch(
      /^[0-9a-f]{64} {2}onedump-1\.2\.3\.tgz\n[0-9a-f]{64} {2}onedump-1\.2\.3\.cdx\.json\n$/,
    );
    expect(spawnSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: out }).status).toBe(0);

    // What npm would install: the compiled CLI, its bin, the docs; no sources or tests.
    const files = execFileSync('tar', ['tzf', join(out, 'onedump-1.2.3.tgz')], { encoding: 'utf8' })
      .trim()
      .split('\n');
    for (const f of [
      'package/package.json',
      'package/bin/onedump.js',
      'package/dist/cli/onedump.js',
      'package/dist/slow/worker.js',
      'package/README.md',
      'package/CONFIG_REF.md',
      'package/docs/docker.md',
    ])
      expect(files).toContain(f);
    expect(files.filter((f) => /^package\/(src|test|testutils|scripts|bench)\//.test(f))).toEqual([]);
    const unpacked = join(work, 'unpacked');
    mkdirSync(unpacked);
    execFileSync('tar', ['xzf', join(out, 'onedump-1.2.3.tgz'), '-C', unpacked]);
    expect(JSON.parse(readFileSync(join(unpacked, 'package', 'package.json'), 'utf8')).version).toBe('1.2.3');
    // Its bin, with the dependencies in place (the install check does this through npm install -g).
    symlinkSync(join(ROOT, 'node_modules'), join(unpacked, 'package', 'node_modules'));
    expect(execFileSync(process.execPath, [join(unpacked, 'package', 'bin', 'onedump.js'), '--version'], { encoding: 'utf8' })).toBe(
      '1.2.3\n',
    );

    const sbom = JSON.parse(readFileSync(join(out, 'onedump-1.2.3.cdx.json'), 'utf8'));
    expect(sbom.bomFormat).toBe('CycloneDX');
    expect(sbom.metadata.component.version).toBe('1.2.3');
    const names = (sbom.components as Array<{ name: string }>).map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['commander', 'mysql2', 'zod']));
    expect(names).not.toContain('vitest'); // runtime dependencies only

    // The stamp went into a staged copy only.
    expect(git('status', '--porcelain')).toBe('');
    expect(readFileSync(join(repo, 'src', 'version.ts'), 'utf8')).not.toContain('1.2.3');
  });

  it("--snapshot builds a dirty tree as X.Y.Z-snapshot.<commit>.dirty, with the working tree's changes", () => {
    writeFileSync(join(repo, 'docs', 'docker.md'), readFileSync(join(repo, 'docs', 'docker.md'), 'utf8') + '\nsnapshot-marker\n');
    const out = join(work, 'snap');
    const r = release(['--snapshot', '--no-binary', '--no-install-check', '--quick-build', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const version = `1.2.3-snapshot.${git('rev-parse', '--short=12', 'HEAD')}.dirty`;
    expect(readdirSync(out)).toContain(`onedump-${version}.tgz`);
    const doc = execFileSync('tar', ['xzOf', join(out, `onedump-${version}.tgz`), 'package/docs/docker.md'], { encoding: 'utf8' });
    expect(doc).toContain('snapshot-marker');
  });
});
