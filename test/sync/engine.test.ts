import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { LocalStorage } from '../../src/storage/local.js';
import type { PutOptions, Storage, StoredObject } from '../../src/storage/types.js';
import { runSync, type SyncOptions } from '../../src/sync/engine.js';
import { ChecksumState } from '../../src/sync/state.js';
import { listSource } from '../../src/sync/source.js';
import { sha256, stateLines } from '../../testutils/tree.js';

let work: string;
let src: string;
let dst: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'onedump-engine-'));
  src = join(work, 'src');
  dst = join(work, 'dst');
  mkdirSync(src);
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

/** A local storage that runs `during` while an upload's body is being read (after the first chunk). */
class MeddlingStorage extends LocalStorage {
  puts = 0;
  constructor(
    root: string,
    private readonly during: (key: string, put: number) => void,
  ) {
    super(root);
  }
  override async put(key: string, body: Readable, opts?: PutOptions): Promise<StoredObject> {
    this.puts++;
    const n = this.puts;
    // Pass the body through a transform that meddles once the first chunk has been read (a 'data' listener on the
    // body itself would switch it to flowing mode and lose chunks).
    let first = true;
    const tap = new Transform({
      transform: (chunk: Buffer, _e, cb) => {
        if (first) {
          first = false;
          this.during(key, n);
        }
        cb(null, chunk);
      },
    });
    body.on('error', (e) => tap.destroy(e));
    return super.put(key, body.pipe(tap), opts);
  }
}

async function files(dir = src) {
  return (await listSource({ source: dir, recursive: true })).files.map((f) => ({ ...f, key: f.rel }));
}

function opts(storage: Storage, f: SyncOptions['files'], extra: Partial<SyncOptions> = {}): SyncOptions {
  return { storage, files: f, checksum: true, stateFile: join(src, 'checksum.onedump'), ...extra };
}

describe('checksum state (the Go tool\'s checksum.onedump)', () => {
  it('reads a Go-written file (blank lines, CRLF) and writes sha256 lines joined by \\n with no trailing newline', async () => {
    const a = sha256('a');
    const b = sha256('b');
    const p = join(work, 'checksum.onedump');
    writeFileSync(p, `${a}\r\n\n${b}`);
    const s = await ChecksumState.load(p);
    expect(s.has(a) && s.has(b)).toBe(true);
    const c = sha256('c');
    const d = sha256('d');
    await Promise.all([s.record(c), s.record(d), s.record(a)]);
    expect(readFileSync(p, 'utf8')).toBe([a, b, c, d].join('\n'));
    const empty = join(work, 'new.onedump');
    const t = await ChecksumState.load(empty);
    await t.record(a);
    expect(readFileSync(empty, 'utf8')).toBe(a);
  });

  it('a write that fails leaves the old file and rejects with the path named', async () => {
    const p = join(work, 'missing-folder', 'checksum.onedump');
    const s = await ChecksumState.load(p);
    await expect(s.record(sha256('x'))).rejects.toThrow(/cannot write the checksum state file .*missing-folder/);
    expect(s.has(sha256('x'))).toBe(false);
  });
});

describe('sync engine', () => {
  it('sends files with equal contents to both keys although the state records contents only', async () => {
    writeFileSync(join(src, 'one'), 'same');
    writeFileSync(join(src, 'two'), 'same');
    const st = new LocalStorage(dst);
    const r1 = await runSync(opts(st, await files()));
    expect(r1.sent.length).toBe(2);
    expect(stateLines(join(src, 'checksum.onedump'))).toEqual([sha256('same')]);
    rmSync(join(dst, 'two'));
    const r2 = await runSync(opts(st, await files()));
    expect(r2.sent.map((s) => s.key)).toEqual(['two']);
    expect(r2.planned.find((p) => p.key === 'two')?.reason).toMatch(/missing or different at the destination/);
  });

  it('a file that changes while it is read is sent again, and the state records the final contents', async () => {
    writeFileSync(join(src, 'f'), Buffer.alloc(3 * 1024 * 1024, 1));
    const st = new MeddlingStorage(dst, (_k, n) => {
      if (n === 1) appendFileSync(join(src, 'f'), 'more');
    });
    const r = await runSync(opts(st, await files()));
    expect(r.failed).toEqual([]);
    expect(r.sent[0]!.attempts).toBe(2);
    const final = readFileSync(join(src, 'f'));
    expect(readFileSync(join(dst, 'f')).equals(final)).toBe(true);
    expect(stateLines(join(src, 'checksum.onedump'))).toEqual([sha256(final)]);
  });

  it('a file that keeps changing is reported and not recorded', async () => {
    writeFileSync(join(src, 'busy'), Buffer.alloc(2 * 1024 * 1024, 2));
    const st = new MeddlingStorage(dst, () => appendFileSync(join(src, 'busy'), 'x'));
    const r = await runSync(opts(st, await files()));
    expect(r.sent).toEqual([]);
    expect(r.failed[0]!.error).toMatch(/busy kept changing while it was being sent .* not recorded/);
    expect(existsSync(join(src, 'checksum.onedump'))).toBe(false);
  }, 30_000);

  it('growing (binlog-style) files are sent up to the size seen at the start, once', async () => {
    writeFileSync(join(src, 'bin.000001'), Buffer.alloc(2 * 1024 * 1024, 3));
    const st = new MeddlingStorage(dst, () => appendFileSync(join(src, 'bin.000001'), Buffer.alloc(1000, 4)));
    const limits = new Map([[join(src, 'bin.000001'), 1024 * 1024]]);
    const r = await runSync(opts(st, await files(), { growing: true, limits }));
    expect(r.sent[0]!.attempts).toBe(1);
    expect(r.sent[0]!.size).toBe(1024 * 1024);
    const prefix = readFileSync(join(src, 'bin.000001')).subarray(0, 1024 * 1024);
    expect(readFileSync(join(dst, 'bin.000001')).equals(prefix)).toBe(true);
    expect(stateLines(join(src, 'checksum.onedump'))).toEqual([sha256(prefix)]);
    // Same limit next time: nothing to send. A larger limit (the file grew): sent again.
    const again = await runSync(opts(new LocalStorage(dst), await files(), { growing: true, limits }));
    expect(again.sent.length).toBe(0);
    limits.set(join(src, 'bin.000001'), 1024 * 1024 + 500);
    const grown = await runSync(opts(new LocalStorage(dst), await files(), { growing: true, limits }));
    expect(grown.sent.map((s) => s.size)).toEqual([1024 * 1024 + 500]);
  });

  it('--delete-source-after removes only verified files; --dry-run touches nothing; no --checksum removes the state', async () => {
    writeFileSync(join(src, 'ok'), 'fine');
    writeFileSync(join(src, 'bad'), 'refused');
    class Refusing extends LocalStorage {
      override async put(key: string, body: Readable, o?: PutOptions) {
        if (key === 'bad') {
          body.resume();
          throw new Error('permission denied by the test');
        }
        return super.put(key, body, o);
      }
    }
    const dry = await runSync(opts(new Refusing(dst), await files(), { dryRun: true, deleteSourceAfter: true }));
    expect(dry.planned.map((p) => [p.key, p.action])).toEqual([
      ['bad', 'send'],
      ['ok', 'send'],
    ]);
    expect(existsSync(dst)).toBe(false);
    const r = await runSync(opts(new Refusing(dst), await files(), { deleteSourceAfter: true, maxAttempts: 1 }));
    expect(r.sent.map((s) => s.key)).toEqual(['ok']);
    expect(r.failed[0]!.error).toMatch(/cannot send .*bad to .*dst\/bad: permission denied by the test/);
    expect(existsSync(join(src, 'ok'))).toBe(false);
    expect(existsSync(join(src, 'bad'))).toBe(true);
    expect(existsSync(join(src, 'checksum.onedump'))).toBe(true);
    await runSync(opts(new LocalStorage(dst), await files(), { checksum: false }));
    expect(existsSync(join(src, 'checksum.onedump'))).toBe(false);
  });
});
