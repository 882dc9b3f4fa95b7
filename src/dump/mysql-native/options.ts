import { ConfigError } from '../../util/errors.js';

/** What the native dumper does; built from the job's `options` (mysqldump spellings). */
export interface NativeOptions {
  addDropTable: boolean;
  addLocks: boolean;
  createInfo: boolean;
  data: boolean;
  triggers: boolean;
  routines: boolean;
  events: boolean;
  allDatabases: boolean;
  /** Databases named with --databases (empty: the DSN's database). */
  databases: string[];
  /** --databases given: write CREATE DATABASE / USE even for one database. */
  databasesMode: boolean;
  /** Rows per INSERT are cut when a statement reaches this many bytes (mysqldump's net_buffer_length). */
  netBufferLength: number;
  /**
   * Connections that read a big table's rows at once, in primary-key ranges, all in the same snapshot (mydumper's
   * --threads). Used only where the snapshots can be shown to be one (see dumper.ts); otherwise one connection.
   * 'auto' (the default): 2 when the client has more than one core (4 when the server runs on it too) and a table to
   * dump is big enough to split, else 1.
   */
  threads: number | 'auto';
  /** Rows per range when a table is read by several connections (0: from the table's size, ~4 MB of data each). */
  chunkRows: number;
}

export const NATIVE_DEFAULTS: NativeOptions = {
  addDropTable: true,
  addLocks: true,
  createInfo: true,
  data: true,
  triggers: true,
  routines: false,
  events: false,
  allDatabases: false,
  databases: [],
  databasesMode: false,
  netBufferLength: 1024 * 1024,
  threads: 'auto',
  chunkRows: 0,
};

/** Every option the native dumper understands, with what it does (for errors and CONFIG_REF.md). */
export const NATIVE_OPTION_HELP: Array<[string, string]> = [
  ['--skip-add-drop-table', 'no DROP TABLE IF EXISTS before each CREATE TABLE (Go tool option)'],
  ['--add-drop-table', 'DROP TABLE IF EXISTS before each CREATE TABLE (default)'],
  ['--skip-add-locks', 'no LOCK TABLES/UNLOCK TABLES around each table\'s INSERTs (Go tool option)'],
  ['--add-locks', 'LOCK TABLES … WRITE around each table\'s INSERTs (default)'],
  ['--no-data, -d', 'schema only'],
  ['--no-create-info, -t', 'data only (no CREATE TABLE)'],
  ['--skip-triggers', 'leave triggers out (they are dumped by default)'],
  ['--triggers', 'dump triggers (default)'],
  ['--routines, -R', 'dump stored procedures and functions'],
  ['--events, -E', 'dump scheduled events'],
  ['--all-databases, -A', 'every database except information_schema, performance_schema, sys and mysql'],
  ['--databases[=a,b], -B', 'the databases named after it (or with =a,b); writes CREATE DATABASE and USE'],
  ['--net-buffer-length=BYTES', 'cut extended INSERTs at about this many bytes (default 1048576)'],
  ['--threads=N|auto', 'connections reading a big table at once, in primary-key ranges of one shared snapshot (default auto: 2 when the client has more than one core, or 4 with the server on the same machine, and an InnoDB table to dump holds at least 8 MB of data, else 1); used only where the snapshots are provably the same (MariaDB with binlog on, or MySQL under its brief read lock), else one connection'],
  ['--chunk-rows=N', 'rows per primary-key range with --threads > 1 (default: about 4 MB of table data per range)'],
  ['--single-transaction, --quick, --hex-blob, --complete-insert, --extended-insert, --tz-utc, --master-data=2', 'accepted for mysqldump compatibility; the native dumper always behaves this way'],
];

const NOOPS = new Set(['--single-transaction', '--quick', '-q', '--hex-blob', '--complete-insert', '-c', '--extended-insert', '-e', '--tz-utc', '--master-data=2', '--source-data=2', '--skip-lock-tables', '--lock-tables=false']);

/**
 * Parses a job's `options` for the native dumper. Unknown options are a config error (exit 2, before anything
 * runs): silently ignoring `--where` or a typo would produce a backup that is not what the user asked for.
 */
export function parseNativeOptions(options: string[] | undefined, where: string): NativeOptions {
  const o: NativeOptions = { ...NATIVE_DEFAULTS, databases: [] };
  const problems: string[] = [];
  const list = options ?? [];
  for (let i = 0; i < list.length; i++) {
    const raw = list[i]!.trim();
    // "--databases a b" may arrive as one list item.
    const [opt, ...inlineArgs] = raw.split(/\s+/);
    const [name, value] = opt!.includes('=') ? [opt!.slice(0, opt!.indexOf('=')), opt!.slice(opt!.indexOf('=') + 1)] : [opt!, undefined];
    switch (name) {
      case '--skip-add-drop-table':
        o.addDropTable = false;
        break;
      case '--add-drop-table':
        o.addDropTable = true;
        break;
      case '--skip-add-locks':
        o.addLocks = false;
        break;
      case '--add-locks':
        o.addLocks = true;
        break;
      case '--no-data':
      case '-d':
        o.data = false;
        break;
      case '--no-create-info':
      case '-t':
        o.createInfo = false;
        break;
      case '--skip-triggers':
        o.triggers = false;
        break;
      case '--triggers':
        o.triggers = true;
        break;
      case '--routines':
      case '-R':
        o.routines = true;
        break;
      case '--events':
      case '-E':
        o.events = true;
        break;
      case '--all-databases':
      case '-A':
        o.allDatabases = true;
        break;
      case '--databases':
      case '-B': {
        o.databasesMode = true;
        const names = [...(value ? value.split(',') : []), ...inlineArgs];
        while (!value && !inlineArgs.length && i + 1 < list.length && !list[i + 1]!.startsWith('-')) names.push(list[++i]!.trim());
        o.databases.push(...names.map((n) => n.trim()).filter(Boolean));
        continue;
      }
      case '--net-buffer-length': {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 4096 || n > 64 * 1024 * 1024) problems.push(`${where}: --net-buffer-length needs a byte count between 4096 and 67108864`);
        else o.netBufferLength = n;
        break;
      }
      case '--threads': {
        const n = Number(value);
        if (value === 'auto') o.threads = 'auto';
        else if (!Number.isInteger(n) || n < 1 || n > 32) problems.push(`${where}: --threads needs a number of connections between 1 and 32, or auto`);
        else o.threads = n;
        break;
      }
      case '--chunk-rows': {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 1) problems.push(`${where}: --chunk-rows needs a positive number of rows`);
        else o.chunkRows = n;
        break;
      }
      default:
        if (NOOPS.has(raw)) break;
        problems.push(
          `${where}: option "${raw}" is not supported by the native mysql dumper (supported: ${NATIVE_OPTION_HELP.map(([k]) => k).join(', ')}; use dbdriver: mysqldump for other mysqldump options)`,
        );
    }
    if (inlineArgs.length) problems.push(`${where}: option "${raw}" takes no arguments`);
  }
  if (!o.data && !o.createInfo) problems.push(`${where}: --no-data together with --no-create-info leaves nothing to dump`);
  if (o.allDatabases && o.databases.length) problems.push(`${where}: --all-databases and --databases cannot be combined`);
  if (problems.length) throw new ConfigError(problems);
  return o;
}
