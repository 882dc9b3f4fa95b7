import { Command } from 'commander';
import { addGlobalOptions, action, examples, globals, loggerFor } from './common.js';
import { resolveDsn } from './dsn-source.js';
import { connectMysql } from '../binlog/connect.js';
import { DEFAULT_ZONEINFO, readZoneinfo, timeZoneSql } from '../tz/load.js';
import { OnedumpError } from '../util/errors.js';

export function register(program: Command): void {
  const tz = program.command('tz').description('MySQL/MariaDB time zone tables');
  const load = tz
    .command('load')
    .description('fill mysql.time_zone* from the system zoneinfo (what mysql_tzinfo_to_sql does), so CONVERT_TZ works')
    .option('--dsn <dsn>', 'server to load (else the config\'s job, else DATABASE_DSN)')
    .option('--job <name>', 'take the DSN from this job of the config')
    .option('--zoneinfo <dir>', 'zoneinfo folder', DEFAULT_ZONEINFO);
  addGlobalOptions(load);
  load.addHelpText(
    'after',
    examples(
      'onedump tz load --dsn "root:pw@tcp(127.0.0.1:3306)/"',
      'onedump tz load --dry-run > tz.sql          print the SQL instead',
      'then:  SELECT CONVERT_TZ(NOW(), "UTC", "Europe/Paris");',
    ),
  );
  load.action(
    action(async (opts: { dsn?: string; job?: string; zoneinfo: string }, cmd: Command) => {
      const g = globals(cmd);
      const zones = await readZoneinfo(opts.zoneinfo);
      if (g.dryRun) {
        for (const stmt of timeZoneSql(zones)) {
          if (!process.stdout.write(stmt + ';\n')) await new Promise((r) => process.stdout.once('drain', r));
        }
        return;
      }
      const log = loggerFor(g);
      const dsn = await resolveDsn(cmd, opts);
      const conn = await connectMysql(dsn);
      try {
        for (const stmt of timeZoneSql(zones)) await conn.query(stmt);
        const [rows] = await conn.query(`SELECT CONVERT_TZ('2026-07-01 12:00:00', 'UTC', 'Europe/Paris') AS t`);
        if ((rows as Array<{ t: unknown }>)[0]?.t == null) throw new OnedumpError('the time zone tables were loaded but CONVERT_TZ still returns NULL.');
      } catch (err) {
        if (err instanceof OnedumpError) throw err;
        throw new OnedumpError(`loading the time zone tables failed: ${(err as Error).message}.`, { cause: err });
      } finally {
        await conn.end().catch(() => {});
      }
      log.info({ zones: zones.length }, 'time zone tables loaded');
      if (g.json) process.stdout.write(JSON.stringify({ ok: true, zones: zones.length }) + '\n');
      else process.stdout.write(`loaded ${zones.length} time zones from ${opts.zoneinfo}.\n`);
    }),
  );
}
