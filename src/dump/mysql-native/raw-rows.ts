/**
 * Row packets without mysql2's per-value Buffers.
 *
 * mysql2 turns each text-protocol row into an array holding one Buffer per column (with `typeCast: false`); for a
 * dump that is ~20 M small objects per 2 M rows, a fifth of the dumper's time, only for the dumper to copy the
 * bytes out again. mysql2 has no public hook below that, so this one replaces the query's row parser
 * (`Query#_rowParser`, which `Query#row` calls as `_rowParser.next(packet, fields, options)` for every row packet)
 * with one that hands back the packet itself. It relies on that internal of the mysql2 version pinned in the
 * lockfile; if a later mysql2 no longer goes through it, rows simply arrive as arrays of Buffers again (the caller
 * handles both), and test/dump/mysql-native.test.ts says which path ran.
 */

/** What the query's 'result' event carries instead of a row when the packet path is active. */
export const RAW_ROW: unique symbol = Symbol('raw row packet');

/** Row packets handed over whole since start-up (tests read it to know which path ran). */
export const rawRowStats = { packets: 0 };

/** The row packet the last RAW_ROW stands for; valid only during that 'result' event. */
export interface RowPacket {
  buffer: Buffer;
  offset: number;
  end: number;
}

/**
 * Makes `query` emit RAW_ROW for each row, with the packet in `current()`. Call right after `conn.query(…)`,
 * before any packet of the result arrived.
 */
export function rawRowPackets(query: object): { current: () => RowPacket } {
  let packet: RowPacket = { buffer: Buffer.alloc(0), offset: 0, end: 0 };
  const parser = {
    next(p: RowPacket): typeof RAW_ROW {
      packet = p;
      rawRowStats.packets++;
      return RAW_ROW;
    },
  };
  let active: typeof parser | null = null;
  if ('_rowParser' in query) {
    Object.defineProperty(query, '_rowParser', {
      configurable: true,
      enumerable: false,
      get: () => active,
      // mysql2 builds its parser once the column definitions have arrived: ours goes in its place.
      set: (value: unknown) => {
        active = value === null || value === undefined ? null : parser;
      },
    });
  }
  return { current: () => packet };
}
