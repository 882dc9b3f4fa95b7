import { registerSecret } from '../util/redact.js';

/** A database address parsed from any DSN form the config accepts. */
export interface ParsedDsn {
  engine: 'mysql' | 'postgres';
  user: string;
  password?: string;
  host?: string;
  port?: number;
  /** Unix socket path (MySQL `unix(...)`, `?socket=`; PostgreSQL `host=/dir`). */
  socket?: string;
  database?: string;
  params: Record<string, string>;
}

export class DsnError extends Error {}

/** Parses `user:pass@tcp(host:port)/db?params` (Go MySQL driver form), `mysql://…`, `postgres://…`, `postgresql://…`. */
export function parseDsn(dsn: string): ParsedDsn {
  const text = dsn.trim();
  if (!text) throw new DsnError('the DSN is empty');
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1]?.toLowerCase();
  const parsed = scheme ? parseUrlDsn(text, scheme) : parseGoDsn(text);
  registerSecret(parsed.password);
  return parsed;
}

function parseUrlDsn(text: string, scheme: string): ParsedDsn {
  let engine: ParsedDsn['engine'];
  if (scheme === 'mysql' || scheme === 'mariadb') engine = 'mysql';
  else if (scheme === 'postgres' || scheme === 'postgresql') engine = 'postgres';
  else throw new DsnError(`unsupported DSN scheme "${scheme}://" (use mysql://, postgres:// or the Go form user:pass@tcp(host:port)/db)`);
  let url: URL;
  try {
    // URL() wants a special-cased host; swap the scheme so any host parses, then read the parts.
    // An empty host (postgres:///db, pg@/db?host=/socket) is valid libpq; give URL() a placeholder.
    const withHost = text.replace(/^([^:]+:\/\/(?:[^/?#@]*@)?)(?=[/?#]|$)/, '$1nohost.invalid');
    url = new URL(withHost.replace(/^[^:]+:/, 'http:'));
  } catch {
    throw new DsnError('the DSN URL does not parse (check for unescaped characters; percent-encode @, : and / in the password)');
  }
  const params: Record<string, string> = {};
  url.searchParams.forEach((v, k) => (params[k] = v));
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new DsnError('the DSN has a malformed percent-encoding');
    }
  };
  const out: ParsedDsn = {
    engine,
    user: decode(url.username),
    password: url.password ? decode(url.password) : undefined,
    host: url.hostname && url.hostname !== 'nohost.invalid' ? url.hostname.replace(/^\[|\]$/g, '') : undefined,
    port: url.port ? Number(url.port) : undefined,
    database: url.pathname.length > 1 ? decode(url.pathname.slice(1)) : undefined,
    params,
  };
  const socket = params.socket ?? (params.host?.startsWith('/') ? params.host : undefined);
  if (socket) {
    out.socket = socket;
    delete params.socket;
  }
  if (out.port === undefined && !out.socket && out.host) out.port = engine === 'mysql' ? 3306 : 5432;
  if (!out.host && !out.socket) out.host = engine === 'mysql' ? '127.0.0.1' : 'localhost';
  if (out.port === undefined && !out.socket) out.port = engine === 'mysql' ? 3306 : 5432;
  return out;
}

/** The go-sql-driver/mysql form: [user[:password]@][net[(addr)]]/dbname[?params]. */
function parseGoDsn(text: string): ParsedDsn {
  const slash = text.lastIndexOf('/');
  if (slash < 0) throw new DsnError('the DSN has no "/" before the database name (expected [user[:password]@]tcp(host:port)/dbname)');
  const head = text.slice(0, slash);
  let tail = text.slice(slash + 1);
  const params: Record<string, string> = {};
  const q = tail.indexOf('?');
  if (q >= 0) {
    for (const kv of tail.slice(q + 1).split('&')) {
      if (!kv) continue;
      const eq = kv.indexOf('=');
      if (eq <= 0) throw new DsnError(`the DSN parameter "${kv}" has no value (expected key=value)`);
      params[decodeURIComponent(kv.slice(0, eq))] = decodeURIComponent(kv.slice(eq + 1));
    }
    tail = tail.slice(0, q);
  }
  // The address may itself contain "/" (unix socket path), so re-split: the last "/" after the closing ")".
  let userinfo = '';
  let netaddr = head;
  let database = tail;
  const close = text.lastIndexOf(')');
  if (close >= 0 && close > slash) {
    // "/" was inside the address: the db name follows the ")".
    const after = text.slice(close + 1);
    if (!after.startsWith('/')) throw new DsnError('the DSN has no "/dbname" after the address');
    database = after.slice(1).split('?')[0] as string;
    netaddr = text.slice(0, close + 1);
  }
  const at = netaddr.lastIndexOf('@');
  if (at >= 0) {
    userinfo = netaddr.slice(0, at);
    netaddr = netaddr.slice(at + 1);
  }
  const colon = userinfo.indexOf(':');
  const user = colon >= 0 ? userinfo.slice(0, colon) : userinfo;
  const password = colon >= 0 ? userinfo.slice(colon + 1) : undefined;
  const out: ParsedDsn = { engine: 'mysql', user, password: password || undefined, database: database || undefined, params };
  if (!netaddr) {
    out.host = '127.0.0.1';
    out.port = 3306;
    return out;
  }
  const m = /^([a-z0-9]+)(?:\((.*)\))?$/i.exec(netaddr);
  if (!m) throw new DsnError(`the DSN address "${netaddr}" is not of the form tcp(host:port) or unix(/path/to/socket)`);
  const net = (m[1] as string).toLowerCase();
  const addr = m[2] ?? '';
  if (net === 'unix') {
    if (!addr) throw new DsnError('the DSN has unix() without a socket path');
    out.socket = addr;
  } else if (net === 'tcp' || net === 'tcp4' || net === 'tcp6') {
    const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(addr);
    if (v6) {
      out.host = v6[1];
      out.port = v6[2] ? Number(v6[2]) : 3306;
    } else {
      const [host, port, ...rest] = addr.split(':');
      if (rest.length) throw new DsnError(`the DSN address "${addr}" has more than one ":"; write IPv6 addresses as [addr]:port`);
      out.host = host || '127.0.0.1';
      if (port !== undefined && !/^\d{1,5}$/.test(port)) throw new DsnError(`the DSN port "${port}" is not a number`);
      out.port = port ? Number(port) : 3306;
    }
  } else {
    throw new DsnError(`the DSN network "${net}" is not supported (use tcp or unix)`);
  }
  if (out.port !== undefined && (out.port < 1 || out.port > 65535)) throw new DsnError(`the DSN port ${out.port} is out of range`);
  return out;
}

/** The DSN with its password masked, for messages and plans. */
export function describeDsn(d: ParsedDsn): string {
  const where = d.socket ? `unix(${d.socket})` : `${d.host}:${d.port}`;
  return `${d.engine}://${d.user || '(default user)'}${d.password ? ':***' : ''}@${where}/${d.database ?? ''}`;
}
