import { EventType } from './event-types.js';
import type { FormatDescription } from './reader.js';

/** A short, human description of an event for `binlog events` (never needed for planning). */
export function decodeInfo(type: number, body: Buffer, serverId: number, fd: FormatDescription): string | undefined {
  try {
    switch (type) {
      case EventType.FORMAT_DESCRIPTION:
        return `Server ver: ${fd.serverVersion}, Binlog ver: ${fd.binlogVersion}`;
      case EventType.QUERY: {
        const post = fd.postHeaderLengths[type - 1] ?? 13;
        const dbLen = body.readUInt8(8);
        const statusLen = body.readUInt16LE(11);
        const dbStart = post + statusLen;
        const db = body.subarray(dbStart, dbStart + dbLen).toString('utf8');
        const query = body.subarray(dbStart + dbLen + 1).toString('utf8');
        return short((db ? `use \`${db}\`; ` : '') + query);
      }
      case EventType.XID:
        return `COMMIT /* xid=${body.readBigUInt64LE(0)} */`;
      case EventType.ROTATE: {
        const post = fd.postHeaderLengths[type - 1] ?? 8;
        return `${body.subarray(post).toString('utf8')};pos=${body.readBigUInt64LE(0)}`;
      }
      case EventType.TABLE_MAP: {
        const post = fd.postHeaderLengths[type - 1] ?? 8;
        const tableId = post === 6 ? body.readUInt32LE(0) : body.readUIntLE(0, 6);
        let p = post;
        const dbLen = body.readUInt8(p);
        const db = body.subarray(p + 1, p + 1 + dbLen).toString('utf8');
        p += 1 + dbLen + 1;
        const tLen = body.readUInt8(p);
        const table = body.subarray(p + 1, p + 1 + tLen).toString('utf8');
        return `table_id: ${tableId} (${db}.${table})`;
      }
      case EventType.MARIADB_GTID: {
        const seq = body.readBigUInt64LE(0);
        const domain = body.readUInt32LE(8);
        const flags = body.readUInt8(12);
        // FL_STANDALONE (1): a DDL or other statement outside BEGIN…COMMIT.
        return `${flags & 1 ? 'GTID' : 'BEGIN GTID'} ${domain}-${serverId}-${seq}`;
      }
      case EventType.GTID:
      case EventType.ANONYMOUS_GTID: {
        if (type === EventType.ANONYMOUS_GTID) return "SET @@SESSION.GTID_NEXT= 'ANONYMOUS'";
        const hex = body.subarray(1, 17).toString('hex');
        const uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
        return `SET @@SESSION.GTID_NEXT= '${uuid}:${body.readBigInt64LE(17)}'`;
      }
      case EventType.MARIADB_ANNOTATE_ROWS:
        return short(body.toString('utf8'));
      default:
        return undefined;
    }
  } catch {
    return undefined; // a short or odd body: the listing simply shows no info
  }
}

/** Password hashes in CREATE USER / ALTER USER / GRANT … IDENTIFIED BY|AS '…' are masked in listings. */
function maskSecrets(s: string): string {
  return s.replace(/(IDENTIFIED\b(?:[^']|'[^']*')*?\b(?:BY|AS)\s*)'(?:[^'\\]|\\[^]|'')*'/gi, "$1'***'");
}

function short(s: string): string {
  const one = maskSecrets(s).replace(/\s+/g, ' ').trim();
  return one.length > 200 ? `${one.slice(0, 197)}...` : one;
}
