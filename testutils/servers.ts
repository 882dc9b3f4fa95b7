import { inject } from 'vitest';
import mysql from 'mysql2/promise';
import pg from 'pg';

/** The run's shared MariaDB: a DSN in the Go-driver form and a connection helper. */
export function sharedMariaDB() {
  const m = inject('servers').mariadb;
  return {
    ...m,
    dsn: (db = '') => `${m.user}:${m.password}@tcp(${m.host}:${m.port})/${db}`,
    connect: (db?: string) =>
      mysql.createConnection({ host: m.host, port: m.port, user: m.user, password: m.password, database: db, multipleStatements: true }),
  };
}

export function sharedPostgres() {
  const p = inject('servers').postgres;
  return {
    ...p,
    dsn: (db = 'postgres') => `postgres://${p.user}:${encodeURIComponent(p.password)}@${p.host}:${p.port}/${db}`,
    connect: async (db = 'postgres') => {
      const c = new pg.Client({ host: p.host, port: p.port, user: p.user, password: p.password, database: db });
      await c.connect();
      return c;
    },
  };
}

/** A fresh database name unique to this test run. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
}
