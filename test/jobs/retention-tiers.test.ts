import { describe, expect, it } from 'vitest';
import { planRetention, isoWeek, type RetentionCandidate } from '../../src/jobs/retention.js';
import { timestampPrefix } from '../../src/jobs/naming.js';
import { KEEP_TIERS, type KeepPolicy } from '../../src/config/fields.js';
import { keepField } from '../../src/config/fields.js';
import { bruteForce } from './retention-oracle.js';
import { rng } from '../../testutils/rng.js';


/** A backup every 6 hours for `days` days with up to ±2 h of jitter, some runs skipped (a failed night). */
function simulatedBackups(seed: number, days: number, start = Date.UTC(2025, 10, 20, 0, 0, 0)): RetentionCandidate[] {
  const r = rng(seed);
  const out: RetentionCandidate[] = [];
  for (let i = 0; i < (days * 24) / 6; i++) {
    if (r() < 0.05) continue;
    const t = new Date(start + i * 6 * 3600_000 + Math.round((r() - 0.5) * 4 * 3600_000) + Math.floor(r() * 1000) * 1000);
    const name = `${timestampPrefix(t)}-app.sql.gz`;
    out.push({ key: `backups/${name}`, name, time: t });
  }
  // The listing order is whatever the storage gives: shuffle.
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const keptKeys = (d: ReturnType<typeof planRetention>) => new Set(d.filter((x) => x.keep).map((x) => x.key));

describe('tiered retention (restic forget --keep-* semantics)', () => {
  const policies: Array<Exclude<KeepPolicy, number>> = [
    { last: 3, hourly: 24, daily: 7, weekly: 4, monthly: 12, yearly: 2 },
    { daily: 30 },
    { weekly: 60 },
    { last: 1, monthly: 6 },
    { hourly: 5, yearly: 10 },
  ];

  for (const [i, policy] of policies.entries()) {
    it(`a simulated 400 days of backups every 6 h (seed ${i + 1}): ${JSON.stringify(policy)} keeps exactly the brute-force set`, () => {
      const cands = simulatedBackups(i + 1, 400);
      const decisions = planRetention(cands, policy);
      const expected = bruteForce(cands, policy);
      expect(keptKeys(decisions)).toEqual(expected);
      // Every decision says why.
      for (const d of decisions) expect(d.reasons.length).toBeGreaterThan(0);
      // Sanity on the figures: the tiers overlap, so at most their sum is kept, and never everything.
      const sum = KEEP_TIERS.reduce((a, t) => a + (policy[t] ?? 0), 0);
      expect(expected.size).toBeLessThanOrEqual(sum);
      expect(expected.size).toBeLessThan(cands.length);
    });
  }

  for (const timeZone of ['Australia/Sydney', 'America/New_York', 'Asia/Kolkata']) {
    it(`periods follow the job's timezone (${timeZone}), DST changes included`, () => {
      const cands = simulatedBackups(77, 400);
      const policy = { hourly: 48, daily: 40, weekly: 20, monthly: 14, yearly: 3 };
      const zoned = planRetention(cands, policy, { timeZone });
      expect(keptKeys(zoned)).toEqual(bruteForce(cands, policy, timeZone));
      // And the zone matters: the UTC answer differs.
      expect(keptKeys(planRetention(cands, policy))).not.toEqual(keptKeys(zoned));
    });
  }

  it('the daily reasons name the day and the count', () => {
    const cands = simulatedBackups(5, 20);
    const d = planRetention(cands, { daily: 2 });
    const kept = d.filter((x) => x.keep).sort((a, b) => b.time!.localeCompare(a.time!));
    expect(kept).toHaveLength(2);
    expect(kept[0]!.reasons).toEqual([`daily ${kept[0]!.time!.slice(0, 10)} (1 of 2)`]);
    expect(kept[1]!.reasons).toEqual([`daily ${kept[1]!.time!.slice(0, 10)} (2 of 2)`]);
  });

  it('a number keeps the newest N by name, as before tiers', () => {
    const cands = simulatedBackups(9, 10);
    const byName = [...cands].sort((a, b) => b.name.localeCompare(a.name));
    expect(keptKeys(planRetention(cands, 4))).toEqual(new Set(byName.slice(0, 4).map((c) => c.key)));
  });

  it('marked backups and backups of unknown time are kept and not counted; the one just written is always kept', () => {
    const cands = simulatedBackups(11, 60);
    const sorted = [...cands].sort((a, b) => b.time!.getTime() - a.time!.getTime());
    const marked = sorted[40]!;
    const newest = sorted[0]!;
    const unknown: RetentionCandidate = { key: 'backups/app.sql.gz-odd', name: 'app.sql.gz-odd' };
    const withMarks = cands.map((c) => (c === marked || c === newest ? { ...c, marked: true } : c));
    const d = planRetention([...withMarks, unknown], { last: 2 }, { protect: sorted[30]!.key });
    const kept = keptKeys(d);
    // Not counted: last 2 skips the marked newest one and takes the next two.
    expect(kept).toEqual(new Set([newest.key, marked.key, sorted[1]!.key, sorted[2]!.key, unknown.key, sorted[30]!.key]));
    expect(d.find((x) => x.key === marked.key)!.reasons).toEqual(['marked --keep']);
    expect(d.find((x) => x.key === unknown.key)!.reasons[0]).toMatch(/^time unknown/);
    expect(d.find((x) => x.key === sorted[30]!.key)!.reasons).toEqual(['just written']);
  });

  it('ISO weeks: the years around 1 January', () => {
    // Checked against the ISO 8601 calendar: 2020-12-31 is 2020-W53, 2021-01-03 too, 2024-12-30 is 2025-W01.
    expect(isoWeek(2020, 12, 31)).toEqual({ year: 2020, week: 53 });
    expect(isoWeek(2021, 1, 3)).toEqual({ year: 2020, week: 53 });
    expect(isoWeek(2021, 1, 4)).toEqual({ year: 2021, week: 1 });
    expect(isoWeek(2024, 12, 30)).toEqual({ year: 2025, week: 1 });
    expect(isoWeek(2026, 12, 3)).toEqual({ year: 2026, week: 49 });
  });

  it('keep: takes a number or tiers; anything else is one clear problem', () => {
    const f = keepField('here');
    expect(f.parse(7)).toBe(7);
    expect(f.parse({ daily: 7, monthly: 12 })).toEqual({ daily: 7, monthly: 12 });
    expect(f.safeParse({}).error?.issues[0]?.message).toMatch(/at least one of last, hourly/);
    expect(f.safeParse({ dayly: 7 }).success).toBe(false);
    expect(f.safeParse({ daily: 0 }).success).toBe(false);
    expect(f.safeParse(1.5).success).toBe(false);
    expect(f.safeParse({ daily: 1.5 }).error?.issues[0]?.message).toBe('daily: must be a whole number');
    expect(f.safeParse('lots').error?.issues[0]?.message).toBe('must be a number (keep the newest N) or tiers such as { daily: 7, weekly: 4 }');
    // A typo is one problem, not two.
    expect(f.safeParse({ dayly: 7 }).error?.issues.map((i) => i.code)).toEqual(['unrecognized_keys']);
  });
});
