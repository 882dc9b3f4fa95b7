import { detach, type SlowEntry } from './entry.js';
import { parseLogTime } from './time.js';

/** Placeholder database of entries whose `use db;` came before the part of the file being read. */
export const INHERITED_DB = '\u0000inherited';

export interface ParseSink {
  entry(entry: SlowEntry): void;
  /** A malformed or truncated entry, or a run of lines that belong to no entry. */
  skipped(): void;
}

type State = 'outside' | 'header' | 'query' | 'startup';

/**
 * Line-at-a-time state machine for MySQL 5.x/8.x and MariaDB slow logs.
 *
 * An entry is a block of `# …` header lines, then `use db;` / `SET timestamp=…;` lines, then the
 * statement (any number of lines). The statement is logged as the client sent it: string literals
 * can hold raw bytes of any value (MariaDB writes prepared-statement parameters unescaped under
 * NO_BACKSLASH_ESCAPES, and text protocol clients may send raw control bytes), so a statement line
 * can start with `#` and even look like a header line. After statement text, `#` lines that look
 * like a header are therefore held back until it is clear what they are: they start a new entry
 * only once a `# Query_time:` line follows them (every entry has one); a statement line that comes
 * first makes them statement text. In the usual case (a `# Time:` or `# User@Host:` line) they are
 * read at once as the next entry's header while the current entry is set aside, and that reading
 * is undone if they turn out to be text: holding every header line back cost ~15 % of the parse.
 * A new entry starts there even when the statement before it did not end with `;` (cut short by a
 * crash); pt-query-digest only splits entries at `;\n#`, so a truncated statement, or a blank line
 * between entries, glues two entries together there; here it does not. Server start-up banners (`…mysqld, Version: … started with:` and MariaDB's
 * `…mariadbd, Version: …`) end the current entry and are dropped.
 */
export class SlowLogParser {
  private state: State = 'outside';
  private entry: SlowEntry | undefined;
  private hasMetrics = false;
  private queryLines: string[] = [];
  /** `#` lines after statement text that may be the header of the next entry (see the class comment). */
  private readonly pending: string[] = [];
  /** Lines held in `pending` (a count, not the array's length: setting an array's length is slow). */
  private held = 0;
  /** Index in `pending` of the first `# Time:`/`# User@Host:` line after the last one ending with `;`, or -1. */
  private heldStart = -1;
  /** Likewise for the first other `# Key: value` line, or -1. */
  private heldAttribute = -1;
  /** The entry set aside while held lines are read as the next entry's header, and its state. */
  private suspended: SlowEntry | undefined;
  private suspendedQuery: string[] = [];
  private suspendedMeta: string[] = [];
  private suspendedHasMetrics = false;
  private suspendedZoneless = false;
  private suspendedDb = '';
  private metaSetLines: string[] = [];
  /** `# Time:` in the old `YYMMDD HH:MM:SS` form names no zone; `SET timestamp=` (epoch seconds) is then preferred. */
  private zonelessTime = false;
  /** MySQL writes `use db;` only when the database differs from the last one it logged. */
  private lastDb = '';
  private lastTimeMicros = NaN;
  private strayLines = false;
  private accounts = new Map<string, Account>();
  /**
   * Set when an entry with no time at all took the time of an earlier entry that this parser did
   * not see (it started part-way into a file): that part must then be read again in sequence.
   */
  timeInheritedFromUnseen = false;

  /**
   * `startDb` is the database carried over from before the text this parser sees: '' at the start
   * of a file; INHERITED_DB for a part of a file that starts mid-way (its entries before the first
   * `use`/`Schema:` get that placeholder, resolved when the parts are merged in order).
   */
  constructor(
    private readonly sink: ParseSink,
    startDb = '',
  ) {
    this.lastDb = startDb;
    this.startsMidFile = startDb !== '';
  }

  private readonly startsMidFile: boolean;

  /** The database a following part of the same file starts with (may be INHERITED_DB). */
  get currentDb(): string {
    return this.lastDb;
  }

  line(line: string): void {
    if (this.suspended !== undefined) {
      this.speculativeLine(line);
      return;
    }
    const first = line.charCodeAt(0);
    if (first === 0x23 /* # */) {
      if (this.state === 'query') this.queryHashLine(line);
      else this.headerLine(line);
      return;
    }
    if (this.state === 'startup') {
      if (STARTUP_CONTINUATION.test(line)) return;
      this.state = 'outside';
    }
    if (isStartupBanner(line)) {
      if (this.held > 0) this.resolvePending(false);
      this.finish();
      // A restarted server starts with no default database: it writes `use` again when one is set.
      this.lastDb = '';
      this.state = 'startup';
      return;
    }
    switch (this.state) {
      case 'query':
        if (this.held > 0) this.pendingAsText();
        this.queryLines.push(line);
        return;
      case 'header':
        this.headerStatementLine(line);
        return;
      default:
        if (line.trim() !== '' && !this.strayLines) {
          this.strayLines = true;
          this.sink.skipped();
        }
    }
  }

  /** Call once at end of input. */
  end(): void {
    if (this.suspended !== undefined) this.rollBack();
    if (this.held > 0) this.resolvePending(false);
    this.finish();
  }

  /** A line starting with `#` outside statement text. */
  private headerLine(line: string): void {
    if (line.startsWith('# Time:')) {
      if (this.state !== 'header' || this.entry!.time !== '' || this.entry!.user !== '' || this.hasMetrics) {
        this.finish();
        this.begin();
      }
      this.setTime(line);
      return;
    }
    if (line.startsWith('# User@Host:')) {
      if (this.state !== 'header' || this.entry!.user !== '' || this.hasMetrics) {
        this.finish();
        this.begin();
      }
      this.userHost(line);
      return;
    }
    if (this.state === 'header') {
      if (line.startsWith('# Query_time:')) {
        this.metrics(line);
      } else if (line.startsWith('# administrator command:')) {
        this.queryLines.push(line.slice(2));
        this.state = 'query';
      } else if (ATTRIBUTE_LINE.test(line)) {
        this.attributes(line);
      }
      return;
    }
    if (this.state === 'startup') this.state = 'outside';
    if (ATTRIBUTE_LINE.test(line)) {
      // A header without Time/User@Host lines (a log that starts mid-entry): take what is there.
      this.begin();
      this.headerLine(line);
    } else if (!this.strayLines && line.trim() !== '#') {
      this.strayLines = true;
      this.sink.skipped();
    }
  }

  /** A line starting with `#` after statement text: statement text, or the header of the next entry. */
  private queryHashLine(line: string): void {
    const endsStatement = line.charCodeAt(line.length - 1) === 0x3b; /* ; */
    if (this.held === 0) {
      const kind = endsStatement ? NOT_HEADER : headerKind(line);
      if (kind === NOT_HEADER) {
        this.queryLines.push(line);
        return;
      }
      if (kind === QUERY_TIME) {
        this.resolvePending(true);
        this.headerLine(line);
        return;
      }
      this.hold(line);
      this.heldStart = kind === ENTRY_START ? 0 : -1;
      this.heldAttribute = kind === ENTRY_START ? -1 : 0;
      if (kind === ENTRY_START) {
        // The usual case: read the header at once as the next entry's, keeping this entry aside
        // until the `# Query_time:` line (see speculativeLine).
        this.suspended = this.entry;
        this.suspendedQuery = this.queryLines;
        this.suspendedMeta = this.metaSetLines;
        this.suspendedHasMetrics = this.hasMetrics;
        this.suspendedZoneless = this.zonelessTime;
        this.suspendedDb = this.lastDb;
        this.begin();
        if (line.charCodeAt(2) === 0x54 /* Time */) this.setTime(line);
        else this.userHost(line);
      }
      return;
    }
    if (endsStatement) {
      // The server ends every statement with `;`, no header line does: what came so far is text.
      this.hold(line);
      this.heldStart = -1;
      this.heldAttribute = -1;
      return;
    }
    const kind = headerKind(line);
    if (kind === QUERY_TIME) {
      this.resolvePending(true);
      this.headerLine(line);
      return;
    }
    if (this.heldStart < 0) {
      if (kind === ENTRY_START) this.heldStart = this.held;
      else if (kind === ATTRIBUTE && this.heldAttribute < 0) this.heldAttribute = this.held;
    }
    this.hold(line);
  }

  /**
   * A line while the held lines are being read as the next entry's header: a `# Query_time:` line
   * confirms them (the entry set aside is emitted); other header lines that the header can take
   * without ending it are read on; anything else undoes the reading (rollBack) and the line goes
   * through the held-lines path as if the header had never been read.
   */
  private speculativeLine(line: string): void {
    if (line.charCodeAt(0) === 0x23 /* # */ && line.charCodeAt(line.length - 1) !== 0x3b /* ; */) {
      const kind = headerKind(line);
      if (kind === QUERY_TIME) {
        const entry = this.suspended!;
        this.suspended = undefined;
        this.held = 0;
        this.emit(entry, this.suspendedQuery, this.suspendedMeta, this.suspendedHasMetrics);
        this.metrics(line);
        return;
      }
      const entry = this.entry!;
      const takes =
        kind === ENTRY_START
          ? line.charCodeAt(2) === 0x55 /* User@Host */
            ? entry.user === ''
            : entry.time === '' && entry.user === ''
          : !line.startsWith('# administrator command:');
      if (takes) {
        this.hold(line);
        // What headerLine does with these lines in a fresh entry's header.
        if (kind === ENTRY_START) {
          if (line.charCodeAt(2) === 0x55 /* User@Host */) this.userHost(line);
          else this.setTime(line);
        } else if (kind === ATTRIBUTE) this.attributes(line);
        return;
      }
    }
    this.rollBack();
    this.line(line);
  }

  /** Undoes speculativeLine's reading: back to the entry set aside, its `#` lines still held. */
  private rollBack(): void {
    this.entry = this.suspended;
    this.suspended = undefined;
    this.queryLines = this.suspendedQuery;
    this.metaSetLines = this.suspendedMeta;
    this.hasMetrics = this.suspendedHasMetrics;
    this.zonelessTime = this.suspendedZoneless;
    this.lastDb = this.suspendedDb;
    this.state = 'query';
    this.strayLines = false;
  }

  private hold(line: string): void {
    if (this.held < this.pending.length) this.pending[this.held] = line;
    else this.pending.push(line);
    this.held++;
  }

  /** The held-back `#` lines were statement text. */
  private pendingAsText(): void {
    for (let i = 0; i < this.held; i++) this.queryLines.push(this.pending[i]!);
    this.held = 0;
  }

  /**
   * Ends the current entry where the held-back lines start the next one's header: at the first
   * `# Time:` or `# User@Host:` line after the last held line that ends with `;`, else (only when
   * a `# Query_time:` line follows, `sure`) at the first other `# Key: value` line there, else at
   * the `# Query_time:` line itself. Lines before that point are statement text. Without such a
   * line (`sure` false: a banner or the end of the input follows) all are text.
   */
  private resolvePending(sure: boolean): void {
    const held = this.held;
    let start = held === 0 ? 0 : this.heldStart;
    if (start < 0 && sure) start = this.heldAttribute < 0 ? held : this.heldAttribute;
    if (start < 0) {
      this.pendingAsText();
      return;
    }
    const lines = this.pending;
    for (let i = 0; i < start; i++) this.queryLines.push(lines[i]!);
    this.held = 0;
    this.finish();
    this.begin();
    for (let i = start; i < held; i++) this.headerLine(lines[i]!);
  }

  private headerStatementLine(line: string): void {
    const first = line.charCodeAt(0) | 0x20;
    // The server writes `use db;` before its `SET timestamp=` line; a `use` after it is the statement.
    if (first === 0x75 /* u */ && this.metaSetLines.length === 0 && USE_LINE.test(line)) {
      const db = USE_LINE.exec(line)![1]!.replace(/`/g, '');
      this.lastDb = db;
      this.entry!.db = db;
      return;
    }
    if (first === 0x73 /* s */ && META_SET_LINE.test(line)) {
      const ts = TIMESTAMP_ASSIGNMENT.exec(line);
      if (ts && (this.zonelessTime || !Number.isFinite(this.entry!.timeMicros))) {
        this.entry!.timeMicros = Math.round(Number(ts[1]) * 1e6);
      }
      this.metaSetLines.push(line);
      return;
    }
    if (line.trim() === '') return;
    this.queryLines.push(line);
    this.state = 'query';
  }

  private setTime(line: string): void {
    const entry = this.entry!;
    entry.time = line.slice(7).trim();
    entry.timeMicros = parseLogTime(entry.time);
    this.zonelessTime = OLD_TIME_VALUE.test(entry.time);
  }

  private begin(): void {
    this.entry = {
      time: '',
      timeMicros: NaN,
      user: '',
      userName: '',
      hostIp: '',
      host: '',
      db: this.lastDb,
      queryTime: 0,
      lockTime: 0,
      rowsSent: 0,
      rowsExamined: 0,
      attributeLines: [],
      connectionId: 0,
      query: '',
    };
    this.hasMetrics = false;
    this.queryLines = [];
    this.metaSetLines = [];
    this.zonelessTime = false;
    this.state = 'header';
    this.strayLines = false;
  }

  private finish(): void {
    const entry = this.entry;
    if (entry === undefined) return;
    this.entry = undefined;
    this.state = 'outside';
    this.strayLines = false;
    this.emit(entry, this.queryLines, this.metaSetLines, this.hasMetrics);
  }

  private emit(entry: SlowEntry, queryLines: string[], metaSetLines: string[], hasMetrics: boolean): void {
    let query = joinQuery(queryLines);
    // The server always writes one `SET timestamp=` line; a second one is the statement itself.
    if (query === '' && metaSetLines.length > 1) query = metaSetLines[metaSetLines.length - 1]!.trim();
    if (query.endsWith(';')) query = query.slice(0, -1).trimEnd();
    if (!hasMetrics || query === '') {
      this.sink.skipped();
      return;
    }
    entry.query = query;
    if (!Number.isFinite(entry.timeMicros)) {
      entry.timeMicros = this.lastTimeMicros;
      if (this.startsMidFile && !Number.isFinite(this.lastTimeMicros)) this.timeInheritedFromUnseen = true;
    } else this.lastTimeMicros = entry.timeMicros;
    this.sink.entry(entry);
  }

  private userHost(line: string): void {
    const entry = this.entry!;
    // The same account and host come back on most lines; only the connection Id differs.
    const idAt = line.lastIndexOf('Id:');
    const key = idAt > 0 ? line.slice(0, idAt) : line;
    let known = this.accounts.get(key);
    if (known === undefined) {
      if (this.accounts.size > 10_000) this.accounts.clear();
      known = parseUserHost(key);
      this.accounts.set(detach(key), known);
    }
    entry.user = known.user;
    entry.userName = known.userName;
    entry.hostIp = known.hostIp;
    entry.host = known.host;
    if (idAt > 0) entry.connectionId = parseInt(line.slice(idAt + 3), 10) || 0;
  }

  private metrics(line: string): void {
    const entry = this.entry!;
    // `# Query_time: 1.000205  Lock_time: 0.000003 Rows_sent: 1  Rows_examined: 0` is read in one
    // pass; anything else (reordered keys, odd numbers) goes through the general lookup.
    let queryTime = NaN;
    let at = 13; // after '# Query_time:'
    at = skipSpaces(line, at);
    let end = numberEnd(line, at);
    if (end > at && line.startsWith('Lock_time:', skipSpaces(line, end))) {
      queryTime = fastNumber(line, at, end);
      at = skipSpaces(line, skipSpaces(line, end) + 10);
      end = numberEnd(line, at);
      entry.lockTime = fastNumber(line, at, end) || 0;
      entry.rowsSent = numberAfter(line, 'Rows_sent:', end) || 0;
      entry.rowsExamined = numberAfter(line, 'Rows_examined:', end) || 0;
    } else {
      queryTime = numberAfter(line, 'Query_time:');
      entry.lockTime = numberAfter(line, 'Lock_time:') || 0;
      entry.rowsSent = numberAfter(line, 'Rows_sent:') || 0;
      entry.rowsExamined = numberAfter(line, 'Rows_examined:') || 0;
    }
    if (Number.isNaN(queryTime)) return;
    entry.queryTime = queryTime;
    entry.attributeLines.push(line);
    this.hasMetrics = true;
  }

  private attributes(line: string): void {
    const entry = this.entry!;
    entry.attributeLines.push(line);
    // MariaDB: `# Thread_id: 8  Schema: shop  QC_hit: No`, or `Schema:   QC_hit:` with no database.
    const schema = SCHEMA.exec(line);
    if (schema) {
      entry.db = schema[1]!;
      this.lastDb = schema[1]!;
    }
  }
}

interface Account {
  user: string;
  userName: string;
  hostIp: string;
  host: string;
}

function parseUserHost(line: string): Account {
  const go = GO_USER_HOST.exec(line);
  const account = ACCOUNT.exec(line);
  const user = go ? go[1]! : account ? account[1]!.trim() : '';
  // The Go tool's host_ip: what follows ` @ ` up to the first `]`, trimmed (`localhost []`,
  // `[10.0.0.1]`, `web1 [10.0.0.1]`); the older, looser form when the line does not have that shape.
  const goHost = GO_HOST_IP.exec(line);
  const hostIp = goHost ? goHost[1]!.trim() : go ? go[2]! : '';
  const at = HOST_AND_IP.exec(line);
  return {
    user: detach(user),
    userName: detach(account ? account[1]!.trim() : user.replace(/\[.*$/, '')),
    hostIp: detach(hostIp),
    host: detach(at ? at[1] || at[2]! : hostIp),
  };
}

const ATTRIBUTE_LINE = /^# +[A-Z][A-Za-z_]+: \S/;

const NOT_HEADER = 0;
const ENTRY_START = 1;
const QUERY_TIME = 2;
const ATTRIBUTE = 3;

/** What a `#` line after statement text may be: `# Time:`/`# User@Host:`, `# Query_time:`, another `# Key: value` line, or none. */
function headerKind(line: string): number {
  const c = line.charCodeAt(2);
  if (c === 0x54 /* T */ && line.startsWith('# Time:')) return ENTRY_START;
  if (c === 0x55 /* U */ && line.startsWith('# User@Host:')) return ENTRY_START;
  if (c === 0x51 /* Q */ && line.startsWith('# Query_time:')) return QUERY_TIME;
  return ATTRIBUTE_LINE.test(line) && !line.startsWith('# administrator command:') ? ATTRIBUTE : NOT_HEADER;
}
const STARTUP_CONTINUATION = /^(?:T[cC][pP] [pP]ort:|Time\s+Id\s+Command)/;
const USE_LINE = /^use\s+([^;\s]+)\s*;?\s*$/i;
const META_SET_LINE = /^SET\s+(?:(?:last_insert_id|insert_id|timestamp)\s*=\s*[\d.]+\s*,?\s*)+;?\s*$/i;
const TIMESTAMP_ASSIGNMENT = /timestamp\s*=\s*([\d.]+)/i;
const GO_USER_HOST = /(\S+\[\S*\])\s*@\s*(\S+(?:\s*\[\d+\.\d+\.\d+\.\d+\])?)/;
const GO_HOST_IP = /^# User@Host: \S+\[\S+\] @ ([\w.-]*\s*\[.*?\])/i;
const ACCOUNT = /^# User@Host: ([^[]+|\[[^[]+\])/;
const HOST_AND_IP = /@\s*(\S*?)\s*\[([^\]]*)\]/;
const SCHEMA = /\bSchema: (\S*)/;
const OLD_TIME_VALUE = /^\d{6}\s/;

function isStartupBanner(line: string): boolean {
  return line.includes(', Version: ') && /^\S.*, Version: .*(?:started with:|embedded library)\s*$/.test(line);
}

/** The number that follows `key` in a header line, or NaN. */
export function numberAfter(line: string, key: string, from = 0): number {
  const at = line.indexOf(key, from);
  if (at < 0) return NaN;
  const start = skipSpaces(line, at + key.length);
  const end = numberEnd(line, start);
  return end > start ? fastNumber(line, start, end) : parseFloat(line.slice(start, start + 32));
}

function skipSpaces(line: string, at: number): number {
  while (line.charCodeAt(at) === 0x20) at++;
  return at;
}

/** End of a run of digits with at most one '.', starting at `at`. */
function numberEnd(line: string, at: number): number {
  let dot = false;
  let i = at;
  for (;;) {
    const c = line.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) i++;
    else if (c === 0x2e && !dot) {
      dot = true;
      i++;
    } else break;
  }
  return i;
}

/** The plain decimal number text[start, end), as parseFloat reads it (exact: at most 15 digits go through integers). */
function fastNumber(text: string, start: number, end: number): number {
  if (end - start > 15) return parseFloat(text.slice(start, end));
  let int = 0;
  let scale = 1;
  let seenDot = false;
  let digits = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      seenDot = true;
      continue;
    }
    digits++;
    int = int * 10 + (c - 0x30);
    if (seenDot) scale *= 10;
  }
  // int and scale are exact below 2^53, and one division rounds correctly, as parseFloat does.
  return digits === 0 ? NaN : int / scale;
}

function joinQuery(lines: string[]): string {
  if (lines.length === 0) return '';
  if (lines.length === 1) return lines[0]!.trim();
  return lines.join('\n').trim();
}
