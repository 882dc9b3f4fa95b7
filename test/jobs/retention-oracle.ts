import { KEEP_TIERS, type KeepPolicy } from '../../src/config/fields.js';
import type { RetentionCandidate } from '../../src/jobs/retention.js';

/**
 * The independent computation: for each tier, group the backups by period with a different date API
 * (toLocaleString in sv-SE gives "YYYY-MM-DD HH:MM:SS" local time; weeks are told apart by their Monday's date), sort
 * the periods, take the newest N and the newest backup of each.
 */
export function bruteForce(cands: RetentionCandidate[], policy: Exclude<KeepPolicy, number>, timeZone = 'UTC'): Set<string> {
  const local = (t: Date) => t.toLocaleString('sv-SE', { timeZone, hour12: false });
  const monday = (t: Date) => {
    const [y, m, d] = local(t).slice(0, 10).split('-').map(Number) as [number, number, number];
    const days = Date.UTC(y, m - 1, d) / 86400_000;
    // 1970-01-01 was a Thursday; Monday-based day of week:
    const dow = (((days + 3) % 7) + 7) % 7;
    return new Date((days - dow) * 86400_000).toISOString().slice(0, 10);
  };
  const keyOf: Record<string, (t: Date, c: RetentionCandidate) => string> = {
    last: (_t, c) => c.time!.toISOString() + c.name,
    hourly: (t) => local(t).slice(0, 13),
    daily: (t) => local(t).slice(0, 10),
    weekly: monday,
    monthly: (t) => local(t).slice(0, 7),
    yearly: (t) => local(t).slice(0, 4),
  };
  const kept = new Set<string>();
  for (const tier of KEEP_TIERS) {
    const n = policy[tier];
    if (!n) continue;
    const periods = new Map<string, RetentionCandidate[]>();
    for (const c of cands) {
      const k = keyOf[tier]!(c.time!, c);
      periods.set(k, [...(periods.get(k) ?? []), c]);
    }
    const newestFirst = [...periods.keys()].sort().reverse().slice(0, n);
    for (const p of newestFirst) {
      const inPeriod = periods.get(p)!;
      let best = inPeriod[0]!;
      for (const c of inPeriod) if (c.time!.getTime() > best.time!.getTime()) best = c;
      kept.add(best.key);
    }
  }
  return kept;
}

