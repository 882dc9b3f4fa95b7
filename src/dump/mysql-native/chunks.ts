/**
 * Reading one table's rows: one query on one connection, or primary-key ranges read by several connections at once
 * and written in key order (mydumper's idea, with one output stream).
 *
 * With several connections, the range at the head of the output streams straight into it; the next ranges are read
 * at the same time into memory, each up to CHUNK_BUFFER bytes (then its connection pauses until its range reaches
 * the head). At most `connections` ranges are under way, so memory stays bounded whatever the table's size.
 */
import type { Writable } from 'node:stream';
import type { Connection } from 'mysql2';
import { PermanentError } from '../../util/errors.js';
import { RAW_ROW, rawRowPackets } from './raw-rows.js';
import { SqlBuffer } from './sql-buffer.js';

/** What a range read ahead of the head may hold before its connection pauses. */
export const CHUNK_BUFFER = 8 << 20;
/** Table data per range when --chunk-rows is not given. */
export const CHUNK_DATA_BYTES = 4 << 20;

/** How one table's rows become INSERT statements. */
export interface TableFormat {
  db: string;
  table: string;
  /** `INSERT INTO `t` (`a`,`b`) VALUES ` */
  prefix: Buffer;
  kindCodes: Uint8Array;
  hasBits: boolean;
  /** Per column, the `_charset ` introducer of KIND_CHARSET_HEX columns; absent when the table has none. */
  intros?: Array<Buffer | undefined>;
  /** Statements are cut when they reach this many bytes. */
  limit: number;
}

/**
 * Pauses a connection while any of its reasons holds (the output is full; its range is not at the head yet).
 *
 * Nothing may be sent on a paused mysql2 connection: a command added then never starts (mysql2 queues its start as
 * an empty packet, which resume() takes for the end of its queue), and the dump would wait forever. Hence
 * `whenFlowing()`, which every next query on the connection goes through.
 */
class Flow {
  private holds = 0;
  private waiting: Array<() => void> = [];
  private draining = false;
  constructor(readonly conn: Connection) {}
  /** Holds until `out` drains; one hold (and one listener) however many writes found it full meanwhile. */
  holdUntilDrain(out: Writable): void {
    if (this.draining) return;
    this.draining = true;
    this.hold();
    out.once('drain', () => {
      this.draining = false;
      this.release();
    });
  }
  hold(): void {
    if (this.holds++ === 0) this.conn.pause();
  }
  release(): void {
    if (--this.holds > 0) return;
    this.conn.resume();
    // resume() hands over queued rows, which may have paused the connection again.
    if (this.holds > 0) return;
    const w = this.waiting;
    this.waiting = [];
    for (const f of w) f();
  }
  /** Runs `f` now, or once the connection is no longer paused. */
  whenFlowing(f: () => void): void {
    if (this.holds === 0) f();
    else this.waiting.push(f);
  }
  flowing(): Promise<void> {
    return new Promise((resolve) => this.whenFlowing(resolve));
  }
}

/**
 * Runs `sql` on `conn` and hands its rows to `emit` as INSERT statements of about `f.limit` bytes. Resolves with the
 * number of rows. The caller pauses the connection for backpressure.
 */
export function queryRows(conn: Connection, sql: string, f: TableFormat, emit: (piece: Buffer) => void): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    // A statement ends with the row that takes it past the limit: room for the limit and a usual row; a longer row
    // grows the buffer (once, for that statement).
    const sb = new SqlBuffer(f.limit + (64 << 10));
    let inStatement = false;
    let rows = 0;
    let failed = false;
    const fail = (err: Error) => {
      if (failed) return;
      failed = true;
      reject(err);
    };
    const query = conn.query({ sql, rowsAsArray: true, typeCast: false });
    const packets = rawRowPackets(query);
    query.on('error', (err: Error) => fail(err));
    query.on('result', (row: unknown) => {
      if (failed) return;
      if (!inStatement) sb.raw(f.prefix);
      if (row === RAW_ROW) {
        const p = packets.current();
        try {
          sb.packetRow(p.buffer, p.offset, p.end, f.kindCodes, f.hasBits, inStatement, f.intros);
        } catch (err) {
          fail(new PermanentError(`the server sent a malformed row (${f.db}.${f.table}, row ${rows + 1}: ${(err as Error).message}); the dump was stopped.`));
          return;
        }
      } else sb.row(row as Array<Buffer | null>, f.kindCodes, inStatement, f.intros);
      inStatement = true;
      rows++;
      if (sb.len >= f.limit) {
        sb.ascii(';\n');
        inStatement = false;
        emit(sb.take());
      }
    });
    query.on('end', () => {
      if (failed) return;
      if (inStatement) {
        sb.ascii(';\n');
        emit(sb.take());
      }
      resolve(rows);
    });
  });
}

/** Rejects when `out` fails or `signal` aborts (a stalled destination never drains, so the wait must end there). */
function guard<T>(work: Promise<T>, out: Writable, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onErr = (e: Error) => done(() => reject(e));
    const onAbort = () => done(() => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted')));
    let settled = false;
    const done = (f: () => void) => {
      if (settled) return;
      settled = true;
      out.off('error', onErr);
      signal.removeEventListener('abort', onAbort);
      f();
    };
    if (signal.aborted) return onAbort();
    out.once('error', onErr);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => done(() => (signal.aborted ? reject(signal.reason) : resolve(v))),
      (e: unknown) => done(() => reject(e)),
    );
  });
}

/** Writes a statement; when two are queued in `out`, holds the connection until it drains (bounded memory). */
function writer(out: Writable, f: TableFormat) {
  // Two statements (2 MiB by default): enough to keep the server busy while the pipeline writes. More queued bytes only
  // go cold before the kernel copies them into the page cache (that copy was ~30 % of a 1.3 GB dump's CPU profile,
  // dearer with 8 MiB queued: 10.3 s median vs 9.7 s, peak RSS 158 vs 140 MB).
  const queueLimit = Math.max(2 << 20, f.limit * 2);
  return (piece: Buffer, flow: Flow) => {
    // A statement is about one highWaterMark, so write() reports "full" almost every time; pausing then would make
    // the server and the pipeline take turns. Keep a few statements queued instead (bounded).
    if (!out.write(piece) && out.writableLength >= queueLimit) flow.holdUntilDrain(out);
  };
}

/** One table's rows over one connection, in the order the server returns them. */
export function streamTable(conn: Connection, sql: string, f: TableFormat, out: Writable, signal: AbortSignal): Promise<number> {
  const flow = new Flow(conn);
  const write = writer(out, f);
  // The connection runs the next statement after this: not before it flows again.
  const work = queryRows(conn, sql, f, (piece) => write(piece, flow)).then(async (rows) => {
    await flow.flowing();
    return rows;
  });
  return guard(work, out, signal);
}

/** A primary-key range [lo, hi], both ends included. */
export interface KeyRange {
  lo: bigint;
  hi: bigint;
}

/**
 * Splits [min, max] of an integer key into ranges of about `rowsPerChunk` rows, assuming the table's `rows` are
 * spread evenly over the key's span (gaps make ranges smaller, never wrong: the ranges cover the whole span).
 */
export function planRanges(min: bigint, max: bigint, rows: number, rowsPerChunk: number, maxRanges = 100_000): KeyRange[] {
  if (max < min) return [];
  const span = max - min + 1n;
  const density = rows > 0 ? Math.max(Number(span) / rows, 1) : 1;
  let step = BigInt(Math.max(1, Math.round(rowsPerChunk * density)));
  if (span / step > BigInt(maxRanges)) step = span / BigInt(maxRanges) + 1n;
  const out: KeyRange[] = [];
  for (let lo = min; lo <= max; lo += step) {
    const hi = lo + step - 1n;
    out.push({ lo, hi: hi > max ? max : hi });
  }
  return out;
}

interface RangeState {
  pieces: Buffer[];
  bytes: number;
  done: boolean;
  flow?: Flow;
  /** Held because it is not at the head and its buffer is full. */
  heldForHead: boolean;
}

/**
 * Reads `ranges` with `sqlFor(range)` over `conns` at once and writes their statements to `out` in range order.
 * Resolves with the number of rows.
 */
export function streamRanges(conns: Connection[], ranges: KeyRange[], sqlFor: (r: KeyRange) => string, f: TableFormat, out: Writable, signal: AbortSignal): Promise<number> {
  const write = writer(out, f);
  const states: RangeState[] = ranges.map(() => ({ pieces: [], bytes: 0, done: false, heldForHead: false }));
  // One Flow per connection across its ranges: a hold taken for the output while one range ended must not be
  // released into the next range's hold.
  const flows = new Map(conns.map((c) => [c, new Flow(c)]));
  let head = 0;
  let next = 0;
  let rows = 0;
  const work = new Promise<number>((resolve, reject) => {
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      reject(err);
    };
    const advance = () => {
      while (head < states.length) {
        const s = states[head]!;
        // The new head: what it read ahead goes out now, and from here on it writes straight through.
        for (const p of s.pieces) write(p, s.flow!);
        s.pieces = [];
        s.bytes = 0;
        if (s.heldForHead) {
          s.heldForHead = false;
          s.flow!.release();
        }
        if (!s.done) return;
        head++;
      }
      // The main connection runs the next statements after this: not before every connection flows again.
      void Promise.all([...flows.values()].map((fl) => fl.flowing())).then(() => resolve(rows));
    };
    const start = (conn: Connection) => {
      // At most one range per connection is under way or waiting to be written: memory is bounded.
      if (failed || next >= states.length || next >= head + conns.length) return false;
      const i = next++;
      const s = states[i]!;
      const flow = flows.get(conn)!;
      s.flow = flow;
      flow.whenFlowing(() => run(i, s, conn, flow));
      return true;
    };
    const run = (i: number, s: RangeState, conn: Connection, flow: Flow) => {
      queryRows(conn, sqlFor(ranges[i]!), f, (piece) => {
        if (i === head) return write(piece, flow);
        s.pieces.push(piece);
        s.bytes += piece.length;
        if (s.bytes >= CHUNK_BUFFER && !s.heldForHead) {
          s.heldForHead = true;
          flow.hold();
        }
      }).then(
        (n) => {
          rows += n;
          s.done = true;
          if (i === head) {
            head++;
            advance();
          }
          // This connection is free: it takes the next range, or waits for the head to move on.
          if (!start(conn)) idle.push(conn);
          while (idle.length && start(idle[0]!)) idle.shift();
        },
        (err: unknown) => fail(err),
      );
    };
    const idle: Connection[] = [];
    for (const c of conns) if (!start(c)) idle.push(c);
    if (!states.length) resolve(0);
  });
  return guard(work, out, signal);
}
