import { describe, expect, it } from 'vitest';
import { computeRecoverability, planBinlogPrune, type StoredBinlog } from '../../src/jobs/recoverability.js';
import type { CatalogEntry } from '../../src/jobs/catalog.js';
import type { BackupManifest } from '../../src/jobs/manifest.js';

/** A dump as listBackups gives it, with only what recoverability reads. */
function dump(name: string, startedAt: string, binlog?: { file: string; position: number }, extra: Partial<CatalogEntry> = {}): CatalogEntry {
  return {
    key: `d/${name}`,
    name,
    size: 1,
    location: `/d/${name}`,
    time: startedAt,
    encrypted: false,
    compressed: true,
    compression: 'gzip',
    marked: false,
    manifest: { startedAt, finishedAt: startedAt, ...(binlog ? { binlog } : {}) } as BackupManifest,
    ...extra,
  };
}
const file = (seq: number, size = 10_000, base = 'mysql-bin'): StoredBinlog => {
  const name = `${base}.${String(seq).padStart(6, '0')}`;
  return { key: `b/${name}`, name, base, seq, size };
};
/** End of file N: N hours after midnight, so every expected value is computed from the file it came from. */
const endOf = async (b: StoredBinlog) => new Date(Date.UTC(2026, 11, 3, b.seq, 30));
const at = (h: number, m = 0) => new Date(Date.UTC(2026, 11, 3, h, m)).toISOString();
const seqs = (a: number, b: number, skip: number[] = []) => Array.from({ length: b - a + 1 }, (_, i) => a + i).filter((s) => !skip.includes(s)).map((s) => file(s));

describe('recoverability window', () => {
  const d1 = dump('1-app.sql.gz', at(2), { file: 'mysql-bin.000002', position: 400 });
  const d2 = dump('2-app.sql.gz', at(8, 10), { file: 'mysql-bin.000008', position: 900 });

  it('a complete chain is one window from the oldest dump to the last event of the newest file', async () => {
    const r = await computeRecoverability([d2, d1], seqs(1, 12), endOf);
    expect(r.gaps).toEqual([]);
    expect(r.windows).toEqual([{ from: at(2), to: at(12, 30), dump: '/d/1-app.sql.gz', binlogs: { first: 'mysql-bin.000002', last: 'mysql-bin.000012' } }]);
    expect([r.earliest, r.latest]).toEqual([at(2), at(12, 30)]);
    expect(r.newestBackup?.name).toBe('2-app.sql.gz');
  });

  it('each missing file splits the window; the files after a gap with no dump after it give nothing', async () => {
    const r = await computeRecoverability([d1, d2], seqs(1, 14, [5, 6, 11]), endOf);
    expect(r.gaps).toEqual([
      { missing: ['mysql-bin.000005', 'mysql-bin.000006'], after: 'mysql-bin.000004', before: 'mysql-bin.000007', reason: '2 files missing from the destination' },
      { missing: ['mysql-bin.000011'], after: 'mysql-bin.000010', before: 'mysql-bin.000012', reason: 'missing from the destination' },
    ]);
    expect(r.windows).toEqual([
      { from: at(2), to: at(4, 30), dump: '/d/1-app.sql.gz', binlogs: { first: 'mysql-bin.000002', last: 'mysql-bin.000004' } },
      { from: at(8, 10), to: at(10, 30), dump: '/d/2-app.sql.gz', binlogs: { first: 'mysql-bin.000008', last: 'mysql-bin.000010' } },
    ]);
    expect(r.latest).toBe(at(10, 30));
  });

  it('a start file shorter than the dump\'s position, or missing, leaves that dump as a single instant', async () => {
    const stored = seqs(1, 10).map((f) => (f.seq === 8 ? { ...f, size: 500 } : f));
    const r = await computeRecoverability([d1, d2], stored, endOf);
    expect(r.gaps).toEqual([{ missing: ['mysql-bin.000008'], reason: 'mysql-bin.000008 is 500 bytes, shorter than position 900 where /d/2-app.sql.gz starts' }]);
    // The copy of 000008 is incomplete: d1's chain ends with it (d2's instant falls inside), and 000009 on help no one.
    expect(r.windows).toEqual([{ from: at(2), to: at(8, 30), dump: '/d/1-app.sql.gz', binlogs: { first: 'mysql-bin.000002', last: 'mysql-bin.000008' } }]);
    const noStart = await computeRecoverability([d1, d2], seqs(3, 10), endOf);
    expect(noStart.gaps[0]).toMatchObject({ missing: ['mysql-bin.000002'] });
    expect(noStart.windows).toEqual([
      { from: at(2), to: at(2), dump: '/d/1-app.sql.gz' },
      { from: at(8, 10), to: at(10, 30), dump: '/d/2-app.sql.gz', binlogs: { first: 'mysql-bin.000008', last: 'mysql-bin.000010' } },
    ]);
  });

  it('files the newest dump needs but that were never shipped are a gap too', async () => {
    const d3 = dump('3-app.sql.gz', at(15), { file: 'mysql-bin.000015', position: 4 });
    const r = await computeRecoverability([d1, d3], seqs(1, 12), endOf);
    expect(r.gaps).toEqual([{ missing: ['mysql-bin.000013', 'mysql-bin.000014', 'mysql-bin.000015'], after: 'mysql-bin.000012', before: undefined, reason: '3 files missing from the destination' }]);
    expect(r.windows.at(-1)).toEqual({ from: at(15), to: at(15), dump: '/d/3-app.sql.gz' });
  });

  it('without binlogs: or coordinates, only the dumps themselves; the same backup at two destinations is one point', async () => {
    const copy = { ...d1, key: 'e/1-app.sql.gz', location: '/e/1-app.sql.gz' };
    const r = await computeRecoverability([d1, copy, d2], undefined, endOf);
    expect(r.windows).toEqual([
      { from: at(2), to: at(2), dump: '/d/1-app.sql.gz' },
      { from: at(8, 10), to: at(8, 10), dump: '/d/2-app.sql.gz' },
    ]);
    expect(r.notes[0]).toMatch(/no binlogs: setting/);
  });
});

describe('binlog prune plan', () => {
  it('deletes the files of the dumps\' series below the oldest kept start, and nothing of another series', () => {
    const kept = [dump('a', at(2), { file: 'mysql-bin.000005', position: 4 }), dump('b', at(3), { file: 'mysql-bin.000009', position: 4 }), dump('c', at(4))];
    const stored = [...seqs(1, 10), file(1, 10, 'other-bin'), file(2, 10, 'other-bin')];
    const p = planBinlogPrune(stored, kept);
    expect(p.delete.map((f) => f.name)).toEqual(['mysql-bin.000001', 'mysql-bin.000002', 'mysql-bin.000003', 'mysql-bin.000004']);
    expect(p.needed).toEqual([{ base: 'mysql-bin', file: 'mysql-bin.000005', seq: 5, dump: '/d/a' }]);
  });

  it('deletes nothing when a kept dump\'s manifest is unreadable or no kept dump has coordinates', () => {
    const bad = planBinlogPrune(seqs(1, 5), [dump('a', at(2), { file: 'mysql-bin.000005', position: 4 }), dump('b', at(3), undefined, { manifest: undefined, manifestError: 'not JSON' })]);
    expect(bad.delete).toEqual([]);
    expect(bad.notes[0]).toMatch(/cannot be read \(not JSON\).*no binlog deleted/);
    const none = planBinlogPrune(seqs(1, 5), [dump('c', at(4))]);
    expect(none.delete).toEqual([]);
    expect(none.notes).toEqual(['no kept dump has binlog coordinates: no binlog deleted']);
  });
});
