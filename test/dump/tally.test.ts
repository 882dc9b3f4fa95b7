import { describe, expect, it } from 'vitest';
import { crc32 } from 'node:zlib';
import { TableTally, tallyFlavour } from '../../src/dump/tally.js';
import { rng } from '../../testutils/rng.js';

function feed(flavour: 'mysql' | 'pg', text: Buffer, sizes: () => number) {
  const t = new TableTally(flavour);
  for (let i = 0; i < text.length; ) {
    const n = Math.max(1, Math.min(text.length - i, sizes()));
    t.observe(text.subarray(i, i + n));
    i += n;
  }
  return t.result();
}

/** pg_dump-shaped text: COPY blocks whose rows start with the bytes that look most like the end line. */
function pgDump(r: () => number, tables: number) {
  const parts: string[] = ['--\n-- PostgreSQL database dump\n--\n\n\\restrict abc\n\nSET statement_timeout = 0;\n'];
  const expected: Array<{ name: string; rows: number; data: string }> = [];
  const tricky = ['\\N', '\\.x', '\\', '\\\\.', '', '.', '\\.\\.', 'a\\.b', '\t\\N', '\\.\t1'];
  for (let t = 0; t < tables; t++) {
    const name = t % 3 === 0 ? `"Odd ""name"" ${t}"` : `t${t}`;
    const rows = Math.floor(r() * 200);
    let data = '';
    for (let i = 0; i < rows; i++) data += `${r() < 0.3 ? tricky[Math.floor(r() * tricky.length)] : `${i}\tvalue ${Math.floor(r() * 1e6)}`}\n`;
    parts.push(`\n--\n-- Data for Name: t${t}; Type: TABLE DATA; Schema: public\n--\n\nCOPY public.${name} (id, v) FROM stdin;\n${data}\\.\n\n`);
    expected.push({ name: name.startsWith('"') ? name.slice(1, -1).replace(/""/g, '"') : name, rows, data });
  }
  parts.push('\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict abc\n');
  return { text: Buffer.from(parts.join('')), expected };
}

/** mysqldump-shaped text, several databases, with INSERT lines holding escaped newlines and quotes. */
function mysqlDump(r: () => number, tables: number) {
  const parts: string[] = ['-- MariaDB dump 10.19\n--\n-- Host: localhost    Database: \n-- ------------------------------------------------------\n'];
  const expected: Array<{ database: string; name: string; data: string }> = [];
  for (let t = 0; t < tables; t++) {
    const db = `db${t % 2}`;
    if (t < 2) parts.push(`\n--\n-- Current Database: \`${db}\`\n--\n\nCREATE DATABASE \`${db}\`;\n\nUSE \`${db}\`;\n`);
    const name = t % 4 === 1 ? `we\`\`ird ${t}` : `t${t}`;
    let data = '';
    const statements = 1 + Math.floor(r() * 3);
    for (let s = 0; s < statements; s++) {
      const rows = Array.from({ length: 1 + Math.floor(r() * 50) }, (_, i) => `(${i},'it\\'s \\n -- Dumping data for table \`x\` ${Math.floor(r() * 1e9)}')`);
      data += `INSERT INTO \`${name}\` VALUES ${rows.join(',')};\n`;
    }
    if (t >= 2) parts.push(`\nUSE \`${db}\`;\n`);
    parts.push(`\n--\n-- Table structure for table \`${name}\`\n--\n\nCREATE TABLE \`${name}\` (id int);\n\n--\n-- Dumping data for table \`${name}\`\n--\n\nLOCK TABLES \`${name}\` WRITE;\n${data}UNLOCK TABLES;\n`);
    expected.push({ database: db, name: name.replace(/``/g, '`'), data });
  }
  parts.push('\n-- Dump completed on 2026-12-03 10:00:00\n');
  return { text: Buffer.from(parts.join('')), expected };
}

const hex = (b: string) => crc32(Buffer.from(b)).toString(16).padStart(8, '0');

describe('TableTally', () => {
  for (const seed of [1, 2, 3, 42, 1234]) {
    it(`pg_dump COPY blocks (seed ${seed}): rows, bytes and CRC-32 of each table, the same for every chunking`, () => {
      const r = rng(seed);
      const { text, expected } = pgDump(r, 12);
      const want = expected.map((e) => ({ database: 'public', name: e.name, rows: e.rows, bytes: Buffer.byteLength(e.data), crc32: hex(e.data) }));
      expect(feed('pg', text, () => text.length)).toEqual(want);
      for (const max of [1, 2, 3, 4, 7, 64, 4096]) expect(feed('pg', text, () => 1 + Math.floor(r() * max)), `chunks ≤ ${max}`).toEqual(want);
    });

    it(`mysqldump INSERT sections over several databases (seed ${seed}), the same for every chunking`, () => {
      const r = rng(seed);
      const { text, expected } = mysqlDump(r, 9);
      const want = expected.map((e) => ({ database: e.database, name: e.name, bytes: Buffer.byteLength(e.data), crc32: hex(e.data) }));
      expect(feed('mysql', text, () => text.length)).toEqual(want);
      for (const max of [1, 5, 13, 100, 8192]) expect(feed('mysql', text, () => 1 + Math.floor(r() * max)), `chunks ≤ ${max}`).toEqual(want);
    });
  }

  it('a changed byte in one row changes that table only', () => {
    const { text } = mysqlDump(rng(7), 6);
    const before = feed('mysql', text, () => 1000);
    const at = text.indexOf('INSERT INTO `t3`') + 40;
    const changed = Buffer.from(text);
    changed[at] = changed[at] === 0x31 ? 0x32 : 0x31;
    const after = feed('mysql', changed, () => 1000);
    expect(after.map((t, i) => t.crc32 === before[i]!.crc32)).toEqual(before.map((t) => t.name !== 't3'));
  });

  it('knows which dump formats are SQL text', () => {
    expect(tallyFlavour({ dbdriver: 'mysql' })).toBe('mysql');
    expect(tallyFlavour({ dbdriver: 'mysqldump', options: ['--xml'] })).toBeUndefined();
    expect(tallyFlavour({ dbdriver: 'pgdump' })).toBe('pg');
    expect(tallyFlavour({ dbdriver: 'pgdump', options: ['-Fc'] })).toBeUndefined();
    expect(tallyFlavour({ dbdriver: 'postgresql', options: ['--format=plain'] })).toBe('pg');
    expect(tallyFlavour({ dbdriver: 'pgdump', options: ['--format', 't'] })).toBeUndefined();
  });
});
