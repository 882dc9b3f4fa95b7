/**
 * Slow-log timestamps. MySQL 5.7+ writes ISO 8601 (`2023-10-15T12:34:56.123456Z`, or with an offset
 * when log_timestamps=SYSTEM); MySQL 5.6 and MariaDB write `231015 12:34:56` (or ` 2:34:56`) in the
 * server's local time zone, which the log does not name, so those are read as UTC.
 * Values are microseconds since the epoch, so that MySQL's microsecond precision survives.
 */
export function parseLogTime(text: string): number {
  // Fast path for MySQL 8's usual `2023-10-15T12:34:56.123456Z`: entries share their second.
  if (text.length === 27 && text.charCodeAt(26) === 0x5a && text.charCodeAt(19) === 0x2e) {
    const second = text.slice(0, 19);
    if (second !== lastSecond) {
      lastSecond = second;
      lastSecondMicros = parseLogTime(`${second}Z`);
    }
    const frac = Number(text.slice(20, 26));
    if (Number.isFinite(lastSecondMicros) && Number.isInteger(frac)) return lastSecondMicros + frac;
  }
  const s = text.trim();
  const iso = ISO_TIME.exec(s);
  if (iso) {
    const [, y, mo, d, h, mi, sec, frac, zone] = iso;
    let micros = Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, +sec!) * 1000;
    if (frac) micros += Math.round(Number(`0.${frac}`) * 1e6);
    if (zone && zone !== 'Z') {
      const sign = zone[0] === '-' ? -1 : 1;
      const offsetMinutes = Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6));
      micros -= sign * offsetMinutes * 60_000_000;
    }
    return micros;
  }
  const old = OLD_TIME.exec(s);
  if (old) {
    const [, yy, mo, d, h, mi, sec] = old;
    return Date.UTC(2000 + +yy!, +mo! - 1, +d!, +h!, +mi!, +sec!) * 1000;
  }
  return NaN;
}

let lastSecond = '';
let lastSecondMicros = NaN;

const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})?$/;
const OLD_TIME = /^(\d{2})(\d{2})(\d{2})\s+(\d{1,2}):(\d{2}):(\d{2})$/;

/** `2023-10-15T12:34:56.123456Z`; microseconds are kept. */
export function formatMicros(micros: number): string {
  if (!Number.isFinite(micros)) return '';
  const ms = Math.floor(micros / 1000);
  const us = micros - ms * 1000;
  const iso = new Date(ms).toISOString(); // …:56.123Z
  return `${iso.slice(0, -1)}${String(Math.round(us)).padStart(3, '0')}Z`;
}

/**
 * `--since`/`--until` values: an ISO date or date-time (UTC unless it names an offset), or a
 * duration back from `now` such as `90m`, `6h`, `2d`, `1w`.
 */
export function parseTimeBound(value: string, now: number = Date.now()): number {
  const ago = /^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$/.exec(value.trim());
  if (ago) {
    const unit = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }[ago[2] as 's' | 'm' | 'h' | 'd' | 'w'];
    return Math.round((now - Number(ago[1]) * unit * 1000) * 1000);
  }
  let text = value.trim();
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) text += 'T00:00:00Z';
  const micros = parseLogTime(text);
  if (Number.isFinite(micros)) return micros;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms * 1000 : NaN;
}
