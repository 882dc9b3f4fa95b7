import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startMariaDB, type MariaDBInstance } from './mariadb.js';
import { startPostgres, type PostgresInstance } from './postgres.js';

export interface SharedServers {
  mariadb: { host: string; port: number; socket: string; user: string; password: string; binlogBase: string };
  postgres: { host: string; port: number; user: string; password: string };
}

declare module 'vitest' {
  export interface ProvidedContext {
    servers: SharedServers;
  }
}

/** One throwaway MariaDB (binlog on) and one PostgreSQL for the whole run; tests that need special settings start their own. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Everything the run writes to the temp folder (servers, dumps, keys) goes into one folder removed at the end; the
  // workers inherit TMPDIR. 1777 like /tmp: the servers run as the mysql and postgres users.
  const runTmp = mkdtempSync(join(tmpdir(), 'onedump-test-run-'));
  chmodSync(runTmp, 0o1777);
  process.env.TMPDIR = runTmp;
  let mariadb: MariaDBInstance | undefined;
  let postgres: PostgresInstance | undefined;
  try {
    [mariadb, postgres] = await Promise.all([startMariaDB(), startPostgres()]);
  } catch (err) {
    await Promise.allSettled([mariadb?.stop(), postgres?.stop()]);
    rmSync(runTmp, { recursive: true, force: true });
    throw err;
  }
  project.provide('servers', {
    mariadb: {
      host: mariadb.host,
      port: mariadb.port,
      socket: mariadb.socket,
      user: mariadb.user,
      password: mariadb.password,
      binlogBase: mariadb.binlogBase,
    },
    postgres: { host: postgres.host, port: postgres.port, user: postgres.user, password: postgres.password },
  });
  return async () => {
    await Promise.allSettled([mariadb?.stop(), postgres?.stop()]);
    rmSync(runTmp, { recursive: true, force: true });
  };
}
