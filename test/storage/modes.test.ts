import { describe, it, expect, afterAll } from 'vitest';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { LocalStorage, localBackend } from '../../src/storage/local.js';
import { sftpBackend } from '../../src/storage/sftp.js';
import { folderModeFor, formatMode, parseModeFlag, type FileMode } from '../../src/storage/mode.js';
import { runSync } from '../../src/sync/engine.js';
import { silentLogger } from '../../src/util/logger.js';
import { UsageError } from '../../src/util/errors.js';
import { modeOf, octal } from '../../testutils/umask-cli.js';
import { partialOf } from '../../testutils/partial.js';

const work = mkdtempSync(join(tmpdir(), 'onedump-modes-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs fn with the process umask set to `u` (the test runs in a forked process, where umask can be set). */
async function underUmask<T>(u: number, fn: () => Promise<T>): Promise<T> {
  const old = process.umask(u);
  try {
    return await fn();
  } finally {
    process.umask(old);
  }
}

/** Every three-digit mode, as text: 000 … 777. */
const ALL_MODES = Array.from({ length: 512 }, (_, i) => i.toString(8).padStart(3, '0'));
const UMASKS = [0o002, 0o022, 0o027, 0o077, 0o007];
/** A deterministic spread of valid modes (owner rw), not only the usual ones. */
const MODES = [0o600, 0o640, 0o644, 0o660, 0o664, 0o700, 0o755, 0o606, 0o751, 0o666];

let n = 0;
const body = () => randomBytes(1 + ((++n * 7919) % 5000));

describe('mode: validation', () => {
  const parseLocal = (mode: unknown) => localBackend.options.safeParse({ path: '/backups/app.sql', mode });
  const parseSftp = (mode: unknown) => sftpBackend.options.safeParse({ path: '/b/app.sql', sshhost: 'h', sshuser: 'u', sshkey: '/k', mode });

  it('accepts every three-digit octal mode (with or without a leading 0) that lets the owner read and write, and nothing else', () => {
    for (const m of ALL_MODES) {
      const ownerRw = (Number(m[0]) & 6) === 6;
      for (const text of [m, `0${m}`]) {
        expect(parseLocal(text).success, text).toBe(ownerRw);
        expect(parseSftp(text).success, text).toBe(ownerRw);
        if (ownerRw) expect(parseModeFlag('--mode')(text)).toBe(parseInt(m, 8));
        else expect(() => parseModeFlag('--mode')(text)).toThrow(/--mode must let the owner read and write/);
      }
    }
  });

  it('refuses what is not three octal digits, and numbers (YAML reads an unquoted 0640 as 640)', () => {
    for (const bad of ['0800', '06400', '64', '', ' 0640', '0640 ', '0o640', 'rw-r-----', 'umask', '0x1a0', '+640', '00640']) {
      expect(parseLocal(bad).success, JSON.stringify(bad)).toBe(false);
      expect(parseSftp(bad).success, JSON.stringify(bad)).toBe(false);
      expect(() => parseModeFlag('--mode')(bad)).toThrow(UsageError);
    }
    for (const num of [640, 416, 0o640, 600]) {
      const r = parseLocal(num);
      expect(r.success).toBe(false);
      expect(r.error?.issues[0]?.code).toBe('invalid_type');
    }
    const msg = parseLocal('0800').error?.issues[0]?.message;
    expect(msg).toBe('must be an octal mode of three digits such as "0640"');
    expect(() => parseModeFlag('--mode')('0800')).toThrow('--mode must be an octal mode of three digits such as "0640" (got "0800").');
    // Unset stays unset (the backend default applies).
    expect(parseLocal(undefined).success).toBe(true);
  });

  it('folders for files of a mode get search bits where the mode gives read', () => {
    for (const m of ALL_MODES) {
      const bits = parseInt(m, 8);
      const expected = parseInt([...m].map((d) => String(Number(d) & 4 ? Number(d) | 1 : Number(d))).join(''), 8);
      expect(octal(folderModeFor(bits)), m).toBe(octal(expected));
      expect(formatMode(bits)).toBe(`0${m}`);
    }
  });
});

describe('local storage file modes', () => {
  it('backups are 0600 whatever the umask; a mode: is set exactly; a put\'s mode wins; \'umask\' gives 0666 less the umask', async () => {
    for (const u of UMASKS) {
      await underUmask(u, async () => {
        const root = join(work, `local-${u.toString(8)}`);
        const plain = new LocalStorage(root);
        await plain.put('default.sql', Readable.from([body()]));
        expect(octal(modeOf(join(root, 'default.sql'))), `umask ${octal(u)}`).toBe('0600');
        await plain.put('copy.bin', Readable.from([body()]), { mode: 'umask' });
        expect(octal(modeOf(join(root, 'copy.bin'))), `umask ${octal(u)}`).toBe(octal(0o666 & ~u));
        for (const m of MODES) {
          const configured = new LocalStorage(root, { mode: m });
          const key = `cfg-${octal(m)}.sql`;
          await configured.put(key, Readable.from([body()]));
          expect(octal(modeOf(join(root, key))), `mode ${octal(m)} umask ${octal(u)}`).toBe(octal(m));
          // A copy into a storage with its own mode: keeps the storage's mode.
          await configured.put(`copy-${key}`, Readable.from([body()]), { mode: 'umask' });
          expect(octal(modeOf(join(root, `copy-${key}`)))).toBe(octal(m));
          // An explicit mode for the put wins over the storage's.
          const other = MODES[(MODES.indexOf(m) + 3) % MODES.length]!;
          await configured.put(`put-${key}`, Readable.from([body()]), { mode: other });
          expect(octal(modeOf(join(root, `put-${key}`)))).toBe(octal(other));
        }
      });
    }
  });

  it('the config entry\'s mode: reaches the storage', async () => {
    const path = join(work, 'cfg', 'app.sql');
    const { storage, key } = localBackend.fromConfig(localBackend.options.parse({ path, mode: '0640' }), { log: silentLogger });
    await underUmask(0o077, () => storage.put(key, Readable.from([Buffer.from('dump')])));
    expect(octal(modeOf(path))).toBe('0640');
    expect(readFileSync(path, 'utf8')).toBe('dump');
  });

  it('the partial file is never more open than asked while it is written, and a leftover one does not lend its mode', async () => {
    for (const [mode, u] of [[0o640, 0o022], [0o640, 0o077], [0o600, 0o000], ['umask', 0o027]] as Array<[FileMode, number]>) {
      await underUmask(u, async () => {
        const root = join(work, `partial-${String(mode)}-${u.toString(8)}`);
        const st = new LocalStorage(root);
        const final = join(root, 'f.bin');
        mkdirSync(root, { recursive: true });
        // A partial file left by a killed run, wide open.
        writeFileSync(final + '.partial', 'stale');
        chmodSync(final + '.partial', 0o666);
        let seen: number | undefined;
        let leftoverGone = false;
        let started = false;
        const src = new Readable({
          read() {
            if (!started) {
              started = true;
              this.push(randomBytes(1000));
              // Looked at while the put is under way (the first chunk is in the file).
              setTimeout(() => {
                const partial = partialOf(root, 'f.bin');
                seen = partial ? statSync(partial).mode & 0o777 : -1;
                leftoverGone = !existsSync(final + '.partial');
                this.push(randomBytes(1000));
                this.push(null);
              }, 50);
            }
          },
        });
        await st.put('f.bin', src, { mode });
        const want = mode === 'umask' ? 0o666 & ~u : mode;
        expect(seen, 'a partial file existed during the write').toBeGreaterThanOrEqual(0);
        expect(leftoverGone, 'the leftover partial file was removed').toBe(true);
        expect(octal(seen! & ~want), `partial ${octal(seen!)} ⊆ ${octal(want)}`).toBe('0000');
        expect(octal(modeOf(final))).toBe(octal(want));
        expect(statSync(final).size).toBe(2000);
      });
    }
  });

  it('sync writes 0666 less the umask by default and --mode exactly (the engine, to a local folder)', async () => {
    const src = join(work, 'sync-src');
    mkdirSync(src);
    const files = ['a.bin', 'b.bin', 'c.bin'].map((name) => {
      const path = join(src, name);
      writeFileSync(path, body(), { flag: 'w' });
      chmodSync(path, 0o600); // a source's own mode is not copied, as with cp without -p
      return { path, rel: name, size: statSync(path).size, mtimeMs: statSync(path).mtimeMs, key: `sub/${name}` };
    });
    for (const u of UMASKS) {
      for (const mode of [undefined, 0o660] as const) {
        const dest = join(work, `sync-dest-${u.toString(8)}-${mode ?? 'd'}`);
        const r = await underUmask(u, () =>
          runSync({ storage: new LocalStorage(dest), files, checksum: false, stateFile: join(src, 'checksum.onedump'), mode }),
        );
        expect(r.failed).toEqual([]);
        for (const f of files) expect(octal(modeOf(join(dest, f.key))), `umask ${octal(u)} mode ${mode}`).toBe(octal(mode ?? 0o666 & ~u));
        // The folder sync created: the usual mkdir -p (0777 less the umask).
        expect(octal(modeOf(join(dest, 'sub')))).toBe(octal(0o777 & ~u));
      }
    }
  });
});
