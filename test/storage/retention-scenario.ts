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
