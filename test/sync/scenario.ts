import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { runCli, CLI_ENTRY, ROOT } from '../../testutils/cli.js';
import { makeTree, treeHashes, stateLines } from '../../testutils/tree.js';
import { storageFromUrl } from '../../src/storage/registry.js';
import { runDownload } from '../../src/sync/download.js';
import { silentLogger } from '../../src/util/logger.js';

export interface Backend {
  /** Destination URL of a fresh folder named `sub` (must end with /). */
  url(sub: string): string;
  /** Extra CLI arguments (e.g. --ssh-key). */
  args?: string[];
  /** Set in this process too, for the in-process checks. */
  env?: NodeJS.ProcessEnv;
  sshKey?: string;
  stop?(): Promise<void>;
}

const isState = (rel: string) => rel === 'checksum.onedump' || rel.endsWith('.tmp');

interface JsonResult {
  ok: boolean;
  sent: number;
  skipped: number;
  failed: number;
  bytes: number;
  files: { sent: Array<{ key: string; sha256: string }>; failed: unknown[] };
}

/**
 * The sync acceptance scenario against one backend: 300 files (0 B–50 MB, nested, unicode) sync; a second run sends
 * nothing; 5 changed + 2 added send exactly 7; download reproduces the tree; a SIGKILLed run completes on rerun with
 * a state file listing exactly the transferred files.
 */
export function defineSyncScenario(name: string, start: () => Promise<Backend>): void {
  describe(`sync scenario: ${name}`, () => {
    let b: Backend;
    let work: string;
    let src: string;

    const cli = async (args: string[]) => {
      const r = await runCli([...args, ...(b.args ?? [])], { env: b.env, timeoutMs: 120_000 });
      return r;
    };
    const syncJson = async (from: string, to: string, extra: string[] = []): Promise<JsonResult> => {
      const r = await cli(['sync', from, to, '--recursive', '--checksum', '--json', ...extra]);
      expect(r.stderr).not.toMatch(/Error|error/);
      expect(r.code).toBe(0);
      return JSON.parse(r.stdout) as JsonResult;
    };
    // Verification downloads run in-process (the CLI's download is exercised once below).
    const downloadTo = async (from: string): Promise<Map<string, string>> => {
      const dir = mkdtempSync(join(work, 'dl-'));
      const t = storageFromUrl(from, { log: silentLogger }, b.sshKey ? { sshkey: b.sshKey } : undefined);
      try {
        const r = await runDownload({ storage: t.storage, prefix: t.key, dir });
        expect(r.failed).toEqual([]);
      } finally {
        await t.storage.close?.();
      }
      return treeHashes(dir);
    };

    beforeAll(async () => {
      b = await start();
      Object.assign(process.env, b.env);
      work = mkdtempSync(join(tmpdir(), 'onedump-sync-'));
      src = join(work, 'src');
      makeTree(src, 300);
    }, 180_000);
    afterAll(async () => {
      await b?.stop?.();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    it('sends 300 files, then nothing, then exactly the 5 changed and 2 added; download reproduces the tree', async () => {
      const dest = b.url('full/');
      const first = await syncJson(src, dest);
      expect(first.sent).toBe(300);
      expect(first.failed).toBe(0);
      const want = treeHashes(src, isState);
      expect(want.size).toBe(300);
      expect(await downloadTo(dest)).toEqual(want);

      const second = await syncJson(src, dest);
      expect(second.sent).toBe(0);
      expect(second.skipped).toBe(300);

      const rels = [...want.keys()].sort();
      const changed = [rels[10]!, rels[50]!, rels[100]!, rels[150]!, rels[299]!];
      for (const [i, rel] of changed.entries()) {
        const p = join(src, rel);
        if (i === 0) {
          // Same size, different bytes: only the checksum can tell.
          const buf = readFileSync(p);
          buf[0] = (buf[0] ?? 0) ^ 0xff;
          writeFileSync(p, buf);
        } else appendFileSync(p, `changed ${i}`);
      }
      writeFileSync(join(src, 'a', 'new-1.txt'), 'brand new');
      writeFileSync(join(src, 'ünïcødé', 'new-2 ✓.bin'), randomBytes(300_000));
      const third = await syncJson(src, dest);
      expect(third.sent).toBe(7);
      const sentKeys = third.files.sent.map((s) => s.key.replace(/^.*?full\//, '')).sort();
      expect(sentKeys).toEqual([...changed, 'a/new-1.txt', 'ünïcødé/new-2 ✓.bin'].sort());
      expect(await downloadTo(dest)).toEqual(treeHashes(src, isState));

      // The CLI's download reproduces the tree; a second one into the same folder finds everything identical.
      const again = mkdtempSync(join(work, 'dl2-'));
      const d1 = await cli(['download', dest, again]);
      expect(d1.code, d1.stderr).toBe(0);
      expect(treeHashes(again)).toEqual(treeHashes(src, isState));
      const r = await cli(['download', dest, again, '--json']);
      const j = JSON.parse(r.stdout) as { downloaded: number; skipped: number };
      expect(j.downloaded).toBe(0);
      expect(j.skipped).toBe(302);
    }, 300_000);

    it('a run killed with SIGKILL and rerun ends byte-identical, with a state file of exactly the transferred files', async () => {
      const tree = join(work, 'kill-src');
      makeTree(tree, 120);
      const dest = b.url('killed/');
      const state = join(tree, 'checksum.onedump');
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', CLI_ENTRY, 'sync', tree, dest, '--recursive', '--checksum', '--parallel', '2', ...(b.args ?? [])],
        { cwd: ROOT, env: { ...process.env, ...b.env }, stdio: 'ignore' },
      );
      let lines = 0;
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        lines = existsSync(state) ? stateLines(state).length : 0;
        if (lines >= 5) break;
        await sleep(5);
      }
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      // Killed in the middle: some recorded, not all.
      expect(lines).toBeGreaterThanOrEqual(5);
      const recorded = stateLines(state);
      const all = treeHashes(tree, isState);
      expect(recorded.length).toBeLessThan(new Set(all.values()).size);
      // Every recorded hash is a file the destination really holds.
      const atDest = await downloadTo(dest);
      const destHashes = new Set(atDest.values());
      for (const h of recorded) expect(destHashes.has(h)).toBe(true);

      const rerun = await syncJson(tree, dest);
      expect(rerun.failed).toBe(0);
      expect(await downloadTo(dest)).toEqual(all);
      expect(new Set(stateLines(state))).toEqual(new Set(all.values()));
      expect(stateLines(state).length).toBe(new Set(all.values()).size);
    }, 300_000);
  });
}
