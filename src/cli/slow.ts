import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import {
  analyzeSlowLogs,
  errorReport,
  listInputFiles,
  parseTimeBound,
  renderTable,
  SlowLogError,
  SORT_KEYS,
  type SlowReport,
  type SortKey,
} from '../slow/index.js';

interface SlowFlags {
  file?: string;
  pattern?: string;
  limit: number;
  mask: boolean;
  database: string;
  sort: SortKey;
  format?: 'json' | 'table';
  since?: number;
  until?: number;
  user?: string;
  db?: string;
  host?: string;
  threads?: number | 'auto';
  json?: boolean;
}

const DATABASES = ['mysql', 'mariadb'];
/** Accepted by the Go tool's flag check, which then fails the run with `{"ok":false}` (see the action). */
const GO_ONLY_DATABASE = 'postgresql';

export function register(program: Command): void {
  const slow = program.command('slow');
  // Bad usage exits 2 (DESIGN.md), and JSON callers still get a JSON answer on stdout.
  slow.exitOverride((err) => {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) throw err;
    const flags = slow.optsWithGlobals<SlowFlags>();
    if (flags.json === true || flags.format === 'json' || (flags.format === undefined && !process.stdout.isTTY)) {
      process.stdout.write(`${JSON.stringify(errorReport(err.message.replace(/^error: /, '')))}\n`);
    }
    process.exitCode = 2;
    throw new CommanderError(2, err.code, err.message);
  });
  slow
    .description('Analyse MySQL/MariaDB slow-query logs: group statements by fingerprint and rank them')
    .argument('[path]', 'slow log (plain or gzip) or a folder of them')
    .option(
      '-f, --file <path>',
      "as [path], with the Go tool's output: JSON, a folder's results per file, a failed run ok:false and exit 0",
    )
    .option('-p, --pattern <glob>', 'in a folder, read only files whose names match, e.g. "*slow.log*"')
    .option('-l, --limit <n>', 'list at most n groups (0 = all)', parseCount, 0)
    .option('-m, --mask [bool]', 'replace literal numbers and strings in the sample query with ?', parseBool, true)
    .option('--no-mask', 'show sample queries as logged')
    .addOption(new Option('-d, --database <engine>', 'log format: mysql or mariadb').argParser(parseDatabase).default('mysql'))
    .addOption(new Option('--sort <key>', 'rank groups by query time').choices([...SORT_KEYS]).default('max'))
    .addOption(new Option('--format <format>', 'output format (default: table on a terminal, JSON otherwise)').choices(['json', 'table']))
    .option('--since <time>', 'only entries at or after: ISO date/time (UTC) or a duration ago (90m, 6h, 2d)', parseTime)
    .option('--until <time>', 'only entries at or before: ISO date/time (UTC) or a duration ago', parseTime)
    .option('--user <name>', 'only entries of this account')
    .option('--db <name>', 'only entries whose default database is this')
    .option('--host <host>', 'only entries from this host name or IP address')
    .option(
      '-j, --threads <n>',
      'threads parsing files and parts of large files: auto (one per core, at most 4, for inputs of 256 MB or more) or a number; 1 = no worker',
      parseThreads,
      'auto',
    )
    .addHelpText(
      'after',
      `
Examples:
  $ onedump slow /var/log/mysql/slow.log                 top statements, table on a terminal
  $ onedump slow -f /var/log/mysql/slow.log.gz -l 10     the Go tool form; gzip is detected
  $ onedump slow -f /var/log/mysql -p "*slow.log"        the Go tool form: each file's results, in one list
  $ onedump slow /var/log/mysql -p "*slow*" --sort total --format json
  $ onedump slow slow.log --since 2h --db shop --user app
  $ onedump slow slow.log -m false                       keep literal values in sample queries`,
    )
    .action(async (path: string | undefined, _flags: SlowFlags, cmd: Command) => {
      const flags = cmd.optsWithGlobals<SlowFlags>();
      // The Go tool's form (`slow -f PATH`) behaves as the Go tool where scripts notice: JSON
      // unless --format table, a folder's results per file, and a failed run printed as
      // {"ok":false,...} with exit 0 (docs/compatibility.md).
      const goForm = flags.file !== undefined && path === undefined;
      const useJson = flags.json === true || flags.format === 'json' || (flags.format === undefined && (goForm || !process.stdout.isTTY));
      const failedRun = (message: string) => (goForm && useJson ? fail(true, 0, message) : fail(useJson, 1, message));
      const target = path ?? flags.file;
      if (path !== undefined && flags.file !== undefined && path !== flags.file) {
        return fail(useJson, 2, 'Give the slow log either as the argument or with -f/--file, not both.');
      }
      if (target === undefined) {
        return fail(useJson, 2, 'Name a slow log or a folder: onedump slow PATH (or -f PATH).');
      }
      if (flags.database === GO_ONLY_DATABASE) {
        if (!goForm) {
          return fail(useJson, 2, 'onedump slow reads MySQL and MariaDB slow logs only: use -d mysql or -d mariadb.');
        }
        // The Go tool accepts the flag, then fails the run with this error once the path exists.
        try {
          await listInputFiles(target, flags.pattern, true);
        } catch (err) {
          if (err instanceof SlowLogError) return failedRun(err.message);
          throw err;
        }
        return failedRun(`unsupported database type: ${GO_ONLY_DATABASE}`);
      }
      try {
        const report = await analyzeSlowLogs(target, {
          pattern: flags.pattern,
          limit: flags.limit,
          mask: flags.mask,
          sort: flags.sort,
          filter: { since: flags.since, until: flags.until, user: flags.user, db: flags.db, host: flags.host },
          threads: flags.threads === 0 ? 1 : flags.threads,
          perFile: goForm,
          goTool: goForm,
        });
        if (useJson) writeJsonReport(report);
        else process.stdout.write(renderTable(report, process.stdout.columns));
        process.exitCode = 0;
      } catch (err) {
        if (err instanceof SlowLogError) return failedRun(err.message);
        throw err;
      }
    });
}

function parseDatabase(value: string): string {
  const v = value.replace(/^=/, '').toLowerCase();
  if (DATABASES.includes(v) || v === GO_ONLY_DATABASE) return v;
  throw new InvalidArgumentError(`expected mysql or mariadb.`);
}

function fail(useJson: boolean, code: number, message: string): void {
  if (useJson) process.stdout.write(`${JSON.stringify(errorReport(message))}\n`);
  else process.stderr.write(`error: ${message}\n`);
  process.exitCode = code;
}

function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number, 0 or more.');
  return n;
}

function parseThreads(value: string): number | 'auto' {
  const v = value.replace(/^=/, '').toLowerCase();
  if (v === 'auto') return 'auto';
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected auto or a whole number, 0 or more.');
  return n;
}

/** `-m`, `-m true`, `-m=false`, `--mask 0`: the Go tool's boolean flag forms. */
function parseBool(value: string): boolean {
  const v = value.replace(/^=/, '').toLowerCase();
  if (['true', '1', 't', 'yes'].includes(v)) return true;
  if (['false', '0', 'f', 'no'].includes(v)) return false;
  throw new InvalidArgumentError('expected true or false.');
}

function parseTime(value: string): number {
  const micros = parseTimeBound(value);
  if (!Number.isFinite(micros)) {
    throw new InvalidArgumentError('expected an ISO date/time such as 2025-02-24T00:49:00Z or a duration such as 6h.');
  }
  return micros;
}

/**
 * Writes `JSON.stringify(report)` and a newline, byte for byte, in pieces of about 1 MiB: one string
 * of a report with thousands of groups (and its UTF-16 copy when a sample holds non-Latin-1 text) was
 * tens of megabytes at the run's peak.
 */
function writeJsonReport(report: SlowReport): void {
  const { results, ...head } = report;
  const open = JSON.stringify({ ...head, results: [] });
  let piece = open.slice(0, -2); // without `]}`
  for (let i = 0; i < results.length; i++) {
    piece += (i === 0 ? '' : ',') + JSON.stringify(results[i]);
    if (piece.length >= 1 << 20) {
      process.stdout.write(piece);
      piece = '';
    }
  }
  process.stdout.write(`${piece}]}\n`);
}
