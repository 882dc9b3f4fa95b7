import { expect } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { prepareJob, runPreparedJob } from '../../src/jobs/job.js';
import { silentLogger } from '../../src/util/logger.js';
import { sharedMariaDB, uniqueName } from '../../testutils/servers.js';

/**
 * Runs a real dump job (mysqldump of a small database on the shared MariaDB, gzip, unique names) five times with the
 * given `storage:` YAML (which sets keep: 3), one simulated day apart. Returns the five file names written, oldest
 * first; the caller checks the storage holds the newest three and everything that is not the job's untouched.
 */
export async function runRetentionScenario(storageYaml: string): Promise<string[]> {
  const m = sharedMariaDB();
  const db = uniqueName('keep');
  const conn = await m.connect();
  try {
    await conn.query(`CREATE DATABASE ${db}; USE ${db}; CREATE TABLE t (id INT PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a'), (2, 'b');`);
  } finally {
    await conn.end();
  }
  const yaml = `
jobs:
  - name: keep-test
    dbdriver: mysqldump
    dbdsn: ${m.dsn(db)}
    gzip: true
    unique: true
    storage:
${storageYaml.replace(/^\n/, '').split('\n').map((l) => `  ${l}`).join('\n')}
`;
  const loaded = parseConfigText(yaml, 'keep-test.yml');
  const job = loaded.config.jobs[0]!;
  const prepared = prepareJob(job, loaded.dsns.get(job.name)!, silentLogger);
  const names: string[] = [];
  for (let i = 0; i < 5; i++) {
    const now = new Date(Date.UTC(2026, 0, 1 + i, 3, 0, 0));
    const r = await runPreparedJob(prepared, { log: silentLogger, signal: new AbortController().signal, now });
    expect(r.error).toBeUndefined();
    expect(r.ok).toBe(true);
    names.push(r.fileName!);
  }
  expect(names[0]).toBe('20260101030000-app.sql.gz');
  return names;
}

/** Run times of the tiered scenario: some days twice, gaps of days, three ISO weeks (UTC). */
export const TIERED_RUNS = [
  '2026-01-01T03:00:00Z',
  '2026-01-01T15:00:00Z',
  '2026-01-02T03:00:00Z',
  '2026-01-05T03:00:00Z',
  '2026-01-06T03:00:00Z',
  '2026-01-06T15:00:00Z',
  '2026-01-12T03:00:00Z',
  '2026-01-13T03:00:00Z',
  '2026-01-13T15:00:00Z',
  '2026-01-14T03:00:00Z',
].map((t) => new Date(t));
export const TIERED_POLICY = { last: 2, daily: 2, weekly: 2 } as const;

/**
 * Runs a real dump job (as runRetentionScenario) at each of TIERED_RUNS with the given `storage:` YAML (which sets
 * `keep: TIERED_POLICY`). After the second run the first backup is marked --keep (`mark(name)`). Returns the names
 * written, oldest first, and what an independent model says must remain: after each run, the brute-force tier scan
 * of the surviving backups, plus the marked one and the one just written.
 */
export async function runTieredScenario(
  storageYaml: string,
  mark: (name: string) => Promise<void>,
  oracle: (cands: Array<{ key: string; name: string; time: Date }>) => Set<string>,
): Promise<{ names: string[]; expected: string[] }> {
  const m = sharedMariaDB();
  const db = uniqueName('tiers');
  const conn = await m.connect();
  try {
    await conn.query(`CREATE DATABASE ${db}; USE ${db}; CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1);`);
  } finally {
    await conn.end();
  }
  const loaded = parseConfigText(
    `
jobs:
  - name: tiers
    dbdriver: mysqldump
    dbdsn: ${m.dsn(db)}
    gzip: true
    unique: true
    storage:
${storageYaml.replace(/^\n/, '').split('\n').map((l) => `  ${l}`).join('\n')}
`,
    'tiers.yml',
  );
  const job = loaded.config.jobs[0]!;
  const prepared = prepareJob(job, loaded.dsns.get(job.name)!, silentLogger);
  const names: string[] = [];
  let survivors: Array<{ key: string; name: string; time: Date }> = [];
  let marked: string | undefined;
  for (const [i, now] of TIERED_RUNS.entries()) {
    const r = await runPreparedJob(prepared, { log: silentLogger, signal: new AbortController().signal, now });
    expect(r.error).toBeUndefined();
    names.push(r.fileName!);
    const written = { key: r.fileName!, name: r.fileName!, time: now };
    const counted = [...survivors.filter((s) => s.name !== marked), written];
    const kept = oracle(counted);
    survivors = [...survivors, written].filter((s) => s.name === marked || s.name === written.name || kept.has(s.key));
    if (i === 1) {
      marked = names[0]!;
      await mark(marked);
    }
  }
  return { names, expected: survivors.map((s) => s.name).sort() };
}
