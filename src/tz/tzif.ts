/**
 * TZif reader for time zone tables. It keeps the version-1 (32-bit) block, as mysql_tzinfo_to_sql does, so the
 * rows match what that tool would load (Debian's zoneinfo is "fat": the v1 block holds every transition to 2037).
 */
export interface TzTransitionType {
  offset: number;
  isDst: boolean;
  abbr: string;
}

export interface TzZone {
  transitions: Array<{ at: number; type: number }>;
  types: TzTransitionType[];
  leapCount: number;
}

export function isTzif(buf: Buffer): boolean {
  return buf.length >= 44 && buf.toString('latin1', 0, 4) === 'TZif';
}

/** Parses a TZif file; throws on anything malformed (callers skip such files as mysql_tzinfo_to_sql does). */
export function parseTzif(buf: Buffer): TzZone {
  if (!isTzif(buf)) throw new Error('not a TZif file');
  const [isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt] = [20, 24, 28, 32, 36, 40].map((o) => buf.readUInt32BE(o)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (typecnt === 0) throw new Error('no local time types');
  let p = 44;
  const need = timecnt * 5 + typecnt * 6 + charcnt + leapcnt * 8 + isstdcnt + isutcnt;
  if (buf.length < p + need) throw new Error('truncated TZif data');
  const ats: number[] = [];
  for (let i = 0; i < timecnt; i++, p += 4) ats.push(buf.readInt32BE(p));
  const idx: number[] = [];
  for (let i = 0; i < timecnt; i++, p++) idx.push(buf.readUInt8(p));
  const raw: Array<{ offset: number; isDst: boolean; desig: number }> = [];
  for (let i = 0; i < typecnt; i++, p += 6) raw.push({ offset: buf.readInt32BE(p), isDst: buf.readUInt8(p + 4) !== 0, desig: buf.readUInt8(p + 5) });
  const chars = buf.subarray(p, p + charcnt);
  const types = raw.map((t) => {
    const end = chars.indexOf(0, t.desig);
    return { offset: t.offset, isDst: t.isDst, abbr: chars.toString('latin1', t.desig, end < 0 ? chars.length : end) };
  });
  for (const i of idx) if (i >= typecnt) throw new Error('transition refers to a missing type');
  return { transitions: ats.map((at, i) => ({ at, type: idx[i] as number })), types, leapCount: leapcnt };
}
