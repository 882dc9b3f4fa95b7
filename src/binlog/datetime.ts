import { UsageError } from '../util/errors.js';

/**
 * Parses a --stop-datetime / --until value to whole epoch seconds. `Z` or `±hh:mm` are honoured. Without an offset
 * the time is local by default, as mysqlbinlog reads it (in its own process's time zone, which is ours), or UTC with
 * `{ bare: 'utc' }`: the Go tool's `binlog restore --stop-datetime` parses its "YYYY-MM-DD HH:MM:SS" as UTC.
 * Binlog timestamps have one-second resolution, so fractions of a second are refused rather than rounded silently.
 */
export function parseStopDatetime(text: string, opts: { bare?: 'local' | 'utc' } = {}): number {
  const bareUtc = opts.bare === 'utc';
  const m = /^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?\s*$/i.exec(text);
  if (!m) {
    throw new UsageError(`"${text}" is not a date-time; use YYYY-MM-DD HH:MM:SS (${bareUtc ? 'UTC' : 'local time'}) or add Z / +hh:mm, e.g. "2026-11-28 14:05:00+01:00".`);
  }
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac, zone] = m;
  if (frac && Number(frac) !== 0) {
    throw new UsageError(`"${text}" has fractions of a second; binlog events carry whole seconds, so give a whole second.`);
  }
  const parts = [Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s)] as const;
  const [Y, M, D, H, MI, S] = parts;
  if (M < 1 || M > 12 || D < 1 || D > 31 || H > 23 || MI > 59 || S > 59) throw new UsageError(`"${text}" is not a valid date-time.`);
  let ms: number;
  if (zone || bareUtc) {
    let offsetMin = 0;
    if (zone && zone.toUpperCase() !== 'Z') {
      const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone) as RegExpExecArray;
      offsetMin = (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3] ?? '0'));
    }
    ms = Date.UTC(Y, M - 1, D, H, MI, S) - offsetMin * 60_000;
    const back = new Date(Date.UTC(Y, M - 1, D, H, MI, S));
    if (back.getUTCDate() !== D) throw new UsageError(`"${text}" is not a valid date.`);
  } else {
    const local = new Date(Y, M - 1, D, H, MI, S);
    if (local.getDate() !== D || local.getMonth() !== M - 1) throw new UsageError(`"${text}" is not a valid date.`);
    ms = local.getTime();
  }
  return Math.floor(ms / 1000);
}

/** Epoch seconds as `YYYY-MM-DD HH:MM:SS±hh:mm` in local time: unambiguous in messages. */
export function formatLocal(seconds: number): string {
  const d = new Date(seconds * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const sign = off < 0 ? '-' : '+';
  const a = Math.abs(off);
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}${sign}${p(Math.floor(a / 60))}:${p(a % 60)}`;
}
