import { crc32 } from 'node:zlib';

/** What a dump holds of one table: its data lines' bytes and CRC-32, and (pg_dump's COPY) its rows. */
export interface TableTallyEntry {
  database?: string;
  name: string;
  /** Rows, where the format shows them line by line (pg_dump COPY); the native dumper reports its own. */
  rows?: number;
  /** Bytes of the table's data lines (mysql: its INSERT lines; pg: its COPY data lines), newlines included. */
  bytes: number;
  /** CRC-32 of those bytes, 8 hex digits: re-dumping a restored copy the same way gives the same value. */
  crc32: string;
}

const HEADER_MAX = 64 * 1024;
const NL = 10;
/** The line that ends a COPY block. */
const COPY_END = Buffer.from('\\.\n');
const EMPTY = Buffer.alloc(0);

interface Acc {
  database?: string;
  name: string;
  rows: number;
  bytes: number;
  crc: number;
}

/**
 * Follows a SQL text dump as it streams and tallies each table's data: mysqldump's and the native dumper's
 * "-- Dumping data for table `t`" sections (INSERT lines, with "USE `db`" for several databases) or pg_dump's plain
 * "COPY schema.t (…) FROM stdin;" blocks. Memory is one header line (≤ 64 KiB); data lines are never copied.
 */
export class TableTally {
  private readonly tables: Acc[] = [];
  private readonly objects = new Set<string>();
  private cur?: Acc;
  private db?: string;
  private head: Buffer[] = [];
  private headLen = 0;
  /** How the rest of the current line is treated once its head is known. */
  private mode: 'head' | 'data' | 'skip' = 'head';
  private inCopy = false;
  /** In a COPY block: at the start of a row, and the start of a row held back at a chunk's end. */
  private atLineStart = true;
  private held: Buffer = EMPTY;

  constructor(private readonly flavour: 'mysql' | 'pg') {}

  observe(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.inCopy) {
        i = this.copyData(chunk, i);
        continue;
      }
      const nl = chunk.indexOf(NL, i);
      const end = nl < 0 ? chunk.length : nl + 1;
      this.linePiece(chunk, i, end, nl >= 0);
      i = end;
    }
  }

  /**
   * COPY data: CRC the bytes and count the rows up to the "\\." line, looking only at line starts. A line start
   * that is cut off by the chunk's end after "\\" or "\\." is held back until the next chunk says what it is, so
   * the tally does not depend on how the stream was chunked.
   */
  private copyData(chunk: Buffer, from: number): number {
    const acc = this.cur!;
    let i = from;
    const run = from;
    const flush = (to: number) => {
      if (to > run) this.count(chunk.subarray(run, to));
    };
    while (i < chunk.length) {
      if (this.atLineStart && this.held.length === 0 && i + 3 <= chunk.length) {
        // The common case, a row start with its first bytes in this chunk: one comparison for most rows.
        if (chunk[i] === 0x5c && chunk[i + 1] === 0x2e && chunk[i + 2] === NL) {
          flush(i);
          this.inCopy = false;
          this.cur = undefined;
          this.mode = 'head';
          return i + 3;
        }
        this.atLineStart = false;
      } else if (this.atLineStart) {
        const h = this.held.length;
        let k = 0;
        let match = true;
        for (; k < 3; k++) {
          const at = i + k - h;
          const b = k < h ? this.held[k] : at < chunk.length ? chunk[at] : -1;
          if (b === -1) break;
          if (b !== COPY_END[k]) {
            match = false;
            break;
          }
        }
        if (match && k === 3) {
          flush(i);
          this.held = EMPTY;
          this.inCopy = false;
          this.cur = undefined;
          this.mode = 'head';
          return i + 3 - h;
        }
        if (match) {
          // "\\" or "\\." at the very end: wait for the next chunk.
          flush(i);
          this.held = Buffer.concat([this.held, chunk.subarray(i)]);
          return chunk.length;
        }
        if (h) {
          this.count(this.held);
          this.held = EMPTY;
        }
        this.atLineStart = false;
      }
      const nl = chunk.indexOf(NL, i);
      if (nl < 0) {
        i = chunk.length;
        break;
      }
      acc.rows++;
      i = nl + 1;
      this.atLineStart = true;
    }
    flush(i);
    return chunk.length;
  }

  private linePiece(chunk: Buffer, start: number, end: number, complete: boolean): void {
    if (this.mode === 'head') {
      const take = Math.min(end, start + (HEADER_MAX - this.headLen));
      if (take > start) {
        this.head.push(chunk.subarray(start, take));
        this.headLen += take - start;
      }
      const known = this.classify(complete || this.headLen >= HEADER_MAX);
      if (known === undefined) return; // wait for more of the line
      this.mode = known;
      if (known === 'data') {
        const h = Buffer.concat(this.head);
        this.count(h);
        if (take < end) this.count(chunk.subarray(take, end));
      }
      this.head = [];
      this.headLen = 0;
    } else if (this.mode === 'data') {
      this.count(chunk.subarray(start, end));
    }
    if (complete) this.mode = 'head';
  }

  private count(b: Buffer): void {
    const acc = this.cur!;
    acc.crc = crc32(b, acc.crc);
    acc.bytes += b.length;
  }

  /** Decides what the current line is from its head; undefined while too little of it has arrived to say. */
  private classify(whole: boolean): 'data' | 'skip' | undefined {
    const text = Buffer.concat(this.head).toString('utf8');
    if (this.flavour === 'mysql') {
      if (this.cur && text.startsWith('INSERT INTO ')) return 'data';
      if (!whole && (text.length < 24 || text.startsWith('-- ') || text.startsWith('USE '))) return undefined;
      // CREATE lines of stored programs: enough of the line to see the kind and the name.
      if (!whole && text.length < 512 && (text.startsWith('/*!') || text.startsWith('CREATE '))) return undefined;
      const obj = mysqlObject(text);
      if (obj) {
        this.objects.add(`${obj.kind} ${this.db ? `${this.db}.` : ''}${obj.name}`);
        return 'skip';
      }
      let m = /^-- Dumping data for table `((?:[^`]|``)+)`\s*$/.exec(text);
      if (m) {
        this.cur = this.table(this.db, m[1]!.replace(/``/g, '`'));
        return 'skip';
      }
      m = /^(?:USE `((?:[^`]|``)+)`;|-- Current Database: `((?:[^`]|``)+)`)\s*$/.exec(text);
      if (m) {
        this.db = (m[1] ?? m[2])!.replace(/``/g, '`');
        this.cur = undefined;
        return 'skip';
      }
      if (/^-- Table structure for table /.test(text)) this.cur = undefined;
      return 'skip';
    }
    if (!whole && (text.length < 6 || text.startsWith('COPY ') || text.startsWith('-- Name: '))) return undefined;
    // pg_dump's table of contents: every object but the tables' data, which is tallied.
    const toc = /^-- Name: (.+); Type: ([A-Z ]+); Schema: ([^;]+);/.exec(text);
    if (toc) {
      if (toc[2] !== 'TABLE DATA') this.objects.add(`${toc[2]!.toLowerCase()} ${toc[3] === '-' ? '' : `${toc[3]}.`}${toc[1]}`);
      return 'skip';
    }
    const m = /^COPY ((?:"(?:[^"]|"")+"|[^ .(]+)\.(?:"(?:[^"]|"")+"|[^ (]+)) (?:\(.*\) )?FROM stdin;\s*$/.exec(text);
    if (m) {
      const [schema, name] = splitPgName(m[1]!);
      this.cur = this.table(schema, name);
      this.inCopy = true;
      this.atLineStart = true;
      this.held = EMPTY;
      return 'skip';
    }
    return 'skip';
  }

  private table(database: string | undefined, name: string): Acc {
    const acc: Acc = { database, name, rows: 0, bytes: 0, crc: 0 };
    this.tables.push(acc);
    return acc;
  }

  /**
   * The schema objects the dump creates, as `kind name` (mysql: view, trigger, procedure, function, event; pg: every
   * table-of-contents entry but table data, so indexes and constraints too), sorted.
   */
  objectList(): string[] {
    return [...this.objects].sort();
  }

  /** Every table seen, in dump order (a table dumped in several sections is summed). */
  result(): TableTallyEntry[] {
    const out = new Map<string, TableTallyEntry & { crcs: number[] }>();
    for (const t of this.tables) {
      const k = `${t.database ?? ''}\0${t.name}`;
      const e = out.get(k);
      if (e) {
        e.bytes += t.bytes;
        if (e.rows !== undefined) e.rows += t.rows;
        e.crcs.push(t.crc);
      } else {
        out.set(k, { database: t.database, name: t.name, ...(this.flavour === 'pg' ? { rows: t.rows } : {}), bytes: t.bytes, crc32: '', crcs: [t.crc] });
      }
    }
    return [...out.values()].map(({ crcs, ...e }) => ({ ...e, crc32: crcs.map((c) => c.toString(16).padStart(8, '0')).join('+') }));
  }
}

const IDENT = '(`(?:[^`]|``)+`|[A-Za-z0-9_$]+)';
/** mysqldump's and the native dumper's ways of writing a view, trigger, routine or event (its first line). */
const MYSQL_OBJECT = [
  new RegExp(`^-- (View|Trigger|Procedure|Function|Event) ${IDENT}`),
  new RegExp(`^-- Final view structure for (view) ${IDENT}`),
  new RegExp(`^(?:/\\*!\\d+ )?CREATE\\b.{0,300}?\\b(TRIGGER|PROCEDURE|FUNCTION|EVENT)\\s+(?:IF NOT EXISTS\\s+)?(?:\\*/\\s*)?${IDENT}`),
];

function mysqlObject(line: string): { kind: string; name: string } | undefined {
  for (const re of MYSQL_OBJECT) {
    const m = re.exec(line);
    if (m) {
      const raw = m[2]!;
      return { kind: m[1]!.toLowerCase(), name: raw.startsWith('`') ? raw.slice(1, -1).replace(/``/g, '`') : raw };
    }
  }
  return undefined;
}

function splitPgName(qualified: string): [string, string] {
  const parts: string[] = [];
  const re = /"((?:[^"]|"")+)"|([^.]+)/g;
  for (const m of qualified.matchAll(re)) parts.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2]!);
  return [parts[0]!, parts.slice(1).join('.')];
}

/** Which tally reads a job's dump stream; undefined where the format is not SQL text (mysqldump --xml, pg_dump -Fc/-Ft). */
export function tallyFlavour(job: { dbdriver: string; options?: string[] }): 'mysql' | 'pg' | undefined {
  const opts = job.options ?? [];
  if (job.dbdriver === 'mysql') return 'mysql';
  if (job.dbdriver === 'mysqldump') return opts.some((o) => o === '--xml' || o === '-X' || o.startsWith('--tab') || o === '-T') ? undefined : 'mysql';
  const format = opts.reduce<string | undefined>((f, o, i) => {
    if (o.startsWith('--format=')) return o.slice(9);
    if (o === '--format' || o === '-F') return opts[i + 1];
    if (o.startsWith('-F') && o.length > 2) return o.slice(2).replace(/^=/, '');
    return f;
  }, undefined);
  return format === undefined || /^p(lain)?$/i.test(format) ? 'pg' : undefined;
}
