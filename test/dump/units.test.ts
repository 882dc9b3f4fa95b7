import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseNativeOptions } from '../../src/dump/mysql-native/options.js';
import { columnKind, memberLiterals, orderViews } from '../../src/dump/mysql-native/dumper.js';
import { SqlBuffer, KIND_BITS, KIND_HEX, KIND_NUMBER, KIND_QUOTED, KIND_ENUM, KIND_CHARSET_HEX } from '../../src/dump/mysql-native/sql-buffer.js';
import { planRanges } from '../../src/dump/mysql-native/chunks.js';
import { classifyToolError } from '../../src/dump/classify.js';
import { remoteDumpCommand } from '../../src/dump/remote.js';
import { UseRewriter } from '../../src/dump/restore.js';
import { ConfigError, OnedumpError, isTransient } from '../../src/util/errors.js';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';

describe('native dumper pieces', () => {
  it('parses the supported options and rejects the rest', () => {
    const o = parseNativeOptions(['--skip-add-drop-table', '--skip-add-locks', '-R', '--events', '--databases', 'a', 'b', '--single-transaction'], 'x');
    expect(o).toMatchObject({ addDropTable: false, addLocks: false, routines: true, events: true, databases: ['a', 'b'], databasesMode: true });
    expect(parseNativeOptions(['--databases=a,b'], 'x').databases).toEqual(['a', 'b']);
    expect(() => parseNativeOptions(['--no-data', '--no-create-info'], 'x')).toThrow(ConfigError);
    expect(() => parseNativeOptions(['--compact'], 'jobs "a".options')).toThrow(/jobs "a".options: option "--compact" is not supported/);
  });

  it('writes literals exactly as mysqldump does', () => {
    const sb = new SqlBuffer(8);
    const row = [Buffer.from(`a'b"c\\d\0e\nf\rg\x1ah😀`), Buffer.from('-12.50'), Buffer.from([0, 255, 16]), Buffer.from([0x05]), null, Buffer.alloc(0)];
    sb.row(row, Uint8Array.from([KIND_QUOTED, KIND_NUMBER, KIND_HEX, KIND_BITS, KIND_QUOTED, KIND_HEX]), false);
    expect(sb.take().toString('utf8')).toBe(`('a\\'b\\"c\\\\d\\0e\\nf\\rg\\Zh😀',-12.50,0x00ff10,b'101',NULL,'')`);
    // Escapes first, last, only, none, and after a long clean run (copied natively, then byte by byte).
    const texts = ["'", "x'", "'x", 'plain', '', 'a'.repeat(100) + '\n' + 'b'.repeat(100) + '"', 'é'.repeat(40) + '\\'];
    sb.row(texts.map((t) => Buffer.from(t)), new Uint8Array(texts.length).fill(KIND_QUOTED), false);
    const escape = (t: string) => `'${t.replace(/[\\'"\n]/g, (c) => (c === '\n' ? '\\n' : '\\' + c))}'`;
    expect(sb.take().toString('utf8')).toBe(`(${texts.map(escape).join(',')})`);
    const long = Buffer.alloc(300, 0xab);
    sb.hex(long);
    expect(sb.take().toString()).toBe('0x' + 'ab'.repeat(300));
    expect(columnKind('json', 'binary')).toBe('quoted');
    expect(columnKind('point', null)).toBe('hex');
    expect(columnKind('char', 'binary')).toBe('hex');
    expect(columnKind('decimal', null)).toBe('number');
  });

  it('writes ENUM index 0 as 0 and raw text as _charset 0x…, from Buffers and from row packets alike', () => {
    const kinds = Uint8Array.from([KIND_ENUM, KIND_ENUM, KIND_CHARSET_HEX, KIND_CHARSET_HEX, KIND_QUOTED, KIND_CHARSET_HEX]);
    const intros = [undefined, undefined, Buffer.from('_cp1251 '), Buffer.from('_sjis '), undefined, Buffer.from('_eucjpms ')];
    const values = [Buffer.alloc(0), Buffer.from("it's"), Buffer.from([0x98, 0x00, 0x27]), Buffer.alloc(0), Buffer.from('x'), null];
    const want = "(0,'it\\'s',_cp1251 0x980027,_sjis '','x',NULL)";
    const sb = new SqlBuffer(4);
    sb.row(values, kinds, false, intros);
    expect(sb.take().toString('latin1')).toBe(want);
    // The same values as a text-protocol row packet (length-coded, 0xfb = NULL).
    const packet = Buffer.concat(values.map((v) => (v === null ? Buffer.from([0xfb]) : Buffer.concat([Buffer.from([v.length]), v]))));
    sb.packetRow(packet, 0, packet.length, kinds, false, true, intros);
    expect(sb.take().toString('latin1')).toBe(',' + want);
  });

  it('reads ENUM/SET member literals from COLUMN_TYPE as the server writes them', () => {
    expect(memberLiterals("enum('a','','it''s','b\\\\c','n\\nl',',','''','x''')")).toEqual(["'a'", "''", "'it''s'", "'b\\\\c'", "'n\\nl'", "','", "''''", "'x'''"]);
    expect(memberLiterals("set('x','y')")).toEqual(["'x'", "'y'"]);
    expect(memberLiterals('int(11)')).toEqual([]);
  });

  it('splits an integer key span into contiguous ranges of about the asked rows', () => {
    const check = (min: bigint, max: bigint, rows: number, per: number, cap?: number) => {
      const r = planRanges(min, max, rows, per, cap);
      expect(r[0]!.lo).toBe(min);
      expect(r.at(-1)!.hi).toBe(max);
      for (let i = 1; i < r.length; i++) expect(r[i]!.lo).toBe(r[i - 1]!.hi + 1n);
      for (const x of r) expect(x.hi >= x.lo).toBe(true);
      return r;
    };
    // Dense keys: ~700 rows per range; sparse keys (1 row per 7 ids): ranges 7x wider in key space.
    expect(check(1n, 7000n, 7000, 700)).toHaveLength(10);
    expect(check(-29993n, 110000n, 20000, 700)).toHaveLength(29);
    // UNSIGNED BIGINT near its maximum, and the cap on the number of ranges.
    expect(check(18446744073709551000n, 18446744073709551615n, 616, 100).length).toBe(7);
    expect(check(0n, 10n ** 12n, 1000, 1, 100).length).toBeLessThanOrEqual(100);
    expect(planRanges(5n, 4n, 0, 10)).toEqual([]);
    expect(check(3n, 3n, 1, 10)).toEqual([{ lo: 3n, hi: 3n }]);
  });

  it('orders views after the views they use', () => {
    const v = orderViews([
      { name: 'a', ddl: 'CREATE VIEW `a` AS select * from `b` join `c`' },
      { name: 'b', ddl: 'CREATE VIEW `b` AS select * from `c`' },
      { name: 'c', ddl: 'CREATE VIEW `c` AS select 1' },
    ]);
    expect(v.map((x) => x.name)).toEqual(['c', 'b', 'a']);
  });
});

describe('dump tool errors', () => {
  it('connection failures are transient, authentication and unknown databases permanent', () => {
    const t = classifyToolError(new OnedumpError(`mysqldump exited with code 2: mysqldump: Got error: 2003: "Can't connect to server on '127.0.0.1' (111)" when trying to connect`), 'j');
    expect(isTransient(t)).toBe(true);
    expect(isTransient(classifyToolError(new OnedumpError('mysqldump exited with code 2: Got error: 2013: Lost connection to server during query'), 'j'))).toBe(true);
    expect(isTransient(classifyToolError(new OnedumpError('mysqldump exited with code 2: Got error: 1045: "Access denied for user"'), 'j'))).toBe(false);
    expect(isTransient(classifyToolError(new OnedumpError('pg_dump exited with code 1: connection to server at "127.0.0.1", port 1 failed: Connection refused'), 'j'))).toBe(true);
    expect(isTransient(classifyToolError(new OnedumpError('pg_dump exited with code 1: FATAL: password authentication failed for user "x"'), 'j'))).toBe(false);
  });
});

describe('remote dump command', () => {
  it('keeps secrets off the command line, gives the tool a 0600 file with stdin, and removes it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-remote-'));
    const tool = join(dir, 'my tool');
    writeFileSync(tool, `#!/bin/sh\nf="\${1#--defaults-extra-file=}"\nprintf '%s|' "$@"; stat -c %a "$f"; cat "$f"; echo "$f" > ${dir}/path\n`);
    chmodSync(tool, 0o755);
    const cmd = remoteDumpCommand(tool, ['--defaults-extra-file={CRED}', "it's", 'db'], { PGHOST: 'h h' });
    expect(cmd).not.toContain('secret');
    const out = execFileSync('sh', ['-c', cmd], { input: 'secret-from-stdin', env: { ...process.env, TMPDIR: dir } }).toString();
    expect(out).toMatch(/^--defaults-extra-file=.*onedump-cred\.\w+\|it's\|db\|600\nsecret-from-stdin$/);
    expect(existsSync(readFileSync(join(dir, 'path'), 'utf8').trim())).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('--target-db rewriting', () => {
  it('comments out CREATE DATABASE and USE, and refuses a dump that switches databases', async () => {
    const src = "CREATE DATABASE /*!32312 IF NOT EXISTS*/ `a`;\nUSE `a`;\nINSERT INTO t VALUES ('USE `b`;');\n";
    expect(await text(Readable.from([Buffer.from(src)]).pipe(new UseRewriter()))).toBe(
      "-- (onedump restore --target-db) CREATE DATABASE /*!32312 IF NOT EXISTS*/ `a`;\n-- (onedump restore --target-db) USE `a`;\nINSERT INTO t VALUES ('USE `b`;');\n",
    );
    await expect(text(Readable.from([Buffer.from('USE `a`;\nUSE `b`;\n')]).pipe(new UseRewriter()))).rejects.toThrow(/single-database dump/);
  });
});
