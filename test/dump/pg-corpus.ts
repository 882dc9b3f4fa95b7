import type pg from 'pg';

export async function createPgCorpus(admin: pg.Client, connect: (db: string) => Promise<pg.Client>, db: string): Promise<void> {
  await admin.query(`CREATE DATABASE "${db}"`);
  const c = await connect(db);
  try {
    await c.query(`
      CREATE TABLE t_types (
        id serial PRIMARY KEY, i2 smallint, i8 bigint, n numeric(40,20), r real, d double precision,
        t text, vc varchar(50), ch char(5), b bytea, j json, jb jsonb, ts timestamp(6), tz timestamptz, dt date,
        tm time, iv interval, u uuid, arr int[], tarr text[], bo boolean, ip inet, pt point
      );
      INSERT INTO t_types (i2, i8, n, r, d, t, vc, ch, b, j, jb, ts, tz, dt, tm, iv, u, arr, tarr, bo, ip, pt) VALUES
        (-32768, 9223372036854775807, 12345678901234567890.12345678901234567890, 3.4028235e38, 1.7976931348623157e308,
         E'quote '' bs \\\\ nl \\n cr \\r tab \\t ctrlz \\x1a 😀', 'é', 'ab', '\\x00ff27', '{"a":[1,2]}', '{"b": {"c": null}}',
         '2024-02-29 12:34:56.123456', '2024-02-29 12:34:56.5+10', '0001-01-01', '24:00:00', '1 year 2 mons -3 days 04:05:06.7',
         'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{1,NULL,3}', '{"a b","c,d"}', true, '192.168.0.1/24', '(1.5,-2)'),
        (NULL, NULL, 'NaN', 'Infinity', '-Infinity', '', '', '', '', 'null', '[]', 'infinity', '-infinity', '-infinity', '00:00', '0', NULL, '{}', '{}', false, '::1', NULL),
        (NULL, NULL, NULL, 1.17549435e-38, 5e-324, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
      CREATE TABLE parent (id int PRIMARY KEY);
      CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent(id));
      INSERT INTO parent VALUES (1), (2); INSERT INTO child VALUES (1, 1), (2, NULL);
      CREATE TABLE t_big AS SELECT g AS id, repeat('row-', 20) || g AS payload FROM generate_series(1, 20000) g;
      CREATE TABLE t_log (id serial PRIMARY KEY, msg text);
      CREATE SEQUENCE s_counter START 100; SELECT nextval('s_counter'); SELECT nextval('s_counter');
      CREATE VIEW z_base AS SELECT id, t FROM t_types;
      CREATE VIEW a_on_view AS SELECT id FROM z_base WHERE id < 3;
      CREATE FUNCTION f_double(x int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT x * 2';
      CREATE FUNCTION trg_log() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO t_log (msg) VALUES ('parent ' || NEW.id); RETURN NEW; END $$;
      CREATE TRIGGER parent_ai AFTER INSERT ON parent FOR EACH ROW EXECUTE FUNCTION trg_log();
    `);
  } finally {
    await c.end();
  }
}

export interface PgSnapshot {
  tables: Record<string, string>;
  views: string[];
  functions: string[];
  triggers: string[];
  sequences: string[];
}

export async function pgSnapshot(c: pg.Client): Promise<PgSnapshot> {
  const tabs = await c.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`);
  const tables: Record<string, string> = {};
  for (const { tablename } of tabs.rows as Array<{ tablename: string }>) {
    const r = await c.query(`SELECT count(*) AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS h FROM "${tablename}" t`);
    tables[tablename] = `${r.rows[0].n}:${r.rows[0].h}`;
  }
  const views = await c.query(`SELECT viewname || ': ' || definition AS v FROM pg_views WHERE schemaname = 'public' ORDER BY 1`);
  const fns = await c.query(`SELECT p.proname || ': ' || pg_get_functiondef(p.oid) AS f FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' ORDER BY 1`);
  const trg = await c.query(`SELECT tgname || ': ' || pg_get_triggerdef(oid) AS t FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1`);
  const seq = await c.query(`SELECT sequencename || ': ' || last_value AS s FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1`);
  return {
    tables,
    views: views.rows.map((r) => r.v as string),
    functions: fns.rows.map((r) => r.f as string),
    triggers: trg.rows.map((r) => r.t as string),
    sequences: seq.rows.map((r) => r.s as string),
  };
}
