import { z } from 'zod';

/**
 * Field builders that carry the metadata validation, the JSON Schema, CONFIG_REF.md and log redaction all derive
 * from: a description, an example, and a `secret` marker.
 */
export interface FieldMeta {
  description: string;
  secret?: boolean;
  example?: unknown;
  /** Name of the Go tool's key when this key exists there too (documentation only). */
  go?: boolean;
}

export function described<T extends z.ZodType>(schema: T, meta: FieldMeta): T {
  return schema.meta({ ...meta }) as T;
}

export const str = (meta: FieldMeta) => described(z.string().min(1, 'must not be empty'), meta);
export const secret = (meta: Omit<FieldMeta, 'secret'>) => described(z.string().min(1, 'must not be empty'), { ...meta, secret: true });
/**
 * The YAML 1.1 spellings the Go tool's YAML library (gopkg.in/yaml.v3) still reads into a bool field, quoted or not.
 * Only boolean fields take them: a string field holding `yes` keeps the string.
 */
export const GO_YAML_BOOLS: Readonly<Record<string, boolean>> = Object.fromEntries([
  ...['y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON'].map((s) => [s, true] as const),
  ...['n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF'].map((s) => [s, false] as const),
]);

const goBool = (v: unknown) => (typeof v === 'string' && Object.hasOwn(GO_YAML_BOOLS, v) ? GO_YAML_BOOLS[v] : v);
/** A boolean field; `dflt` sits inside the preprocessing so the JSON Schema still shows it. */
export const bool = (meta: FieldMeta, dflt?: boolean) =>
  described(z.preprocess(goBool, dflt === undefined ? z.boolean() : z.boolean().default(dflt)), meta);
export const posInt = (meta: FieldMeta) => described(z.number().int('must be a whole number').positive('must be at least 1'), meta);

/** Durations such as `30s`, `5m`, `6h`, `1h30m`, `2d` (also a number of seconds). */
export const DURATION_RE = /^(\d+(\.\d+)?(ms|s|m|h|d))+$/;
export const duration = (meta: FieldMeta) =>
  described(
    z.union([z.string().regex(DURATION_RE, 'must be a duration such as 30s, 10m, 6h or 1h30m'), z.number().positive()]),
    meta,
  );

/** Metadata attached to a schema (looking through optional/default/nullable wrappers). */
export function metaOf(schema: z.ZodType): FieldMeta | undefined {
  let s: z.ZodType | undefined = schema;
  for (let i = 0; s && i < 6; i++) {
    const m = s.meta() as FieldMeta | undefined;
    if (m?.description) return m;
    const inner: z.ZodType | undefined = (s as unknown as { def?: { innerType?: z.ZodType } }).def?.innerType;
    s = inner;
  }
  return undefined;
}

/** The retention tiers `keep:` accepts besides a plain number (restic's `forget --keep-*` meanings). */
export const KEEP_TIERS = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const;
export type KeepTier = (typeof KEEP_TIERS)[number];
export type KeepPolicy = number | Partial<Record<KeepTier, number>>;

/**
 * The `keep:` key of every storage backend: a number (keep the newest N backups of the job there) or tiers
 * (`{ last: 3, daily: 7, weekly: 4, monthly: 12, yearly: 2 }`: per tier, the newest backup of each of the last N
 * periods that have one). See docs/retention.md.
 */
export function keepField(where: string) {
  const tier = (what: string) => posInt({ description: what }).optional();
  const tiers = z
    .strictObject({
      last: tier('The newest N backups.'),
      hourly: tier('The newest backup of each of the last N hours that have one.'),
      daily: tier('The newest backup of each of the last N days that have one.'),
      weekly: tier('The newest backup of each of the last N ISO weeks (Monday to Sunday) that have one.'),
      monthly: tier('The newest backup of each of the last N calendar months that have one.'),
      yearly: tier('The newest backup of each of the last N calendar years that have one.'),
    })
    .refine((t) => KEEP_TIERS.some((k) => t[k] !== undefined), { message: `give at least one of ${KEEP_TIERS.join(', ')}`, when: (p) => p.issues.length === 0 });
  const either = z.union([z.number().int('must be a whole number').positive('must be at least 1'), tiers], {
    // Neither form matched: say what is wrong with the form that was meant.
    error: (iss) => {
      if (iss.code !== 'invalid_union') return undefined;
      const v = iss.input;
      const first = v !== null && typeof v === 'object' ? tiers.safeParse(v).error?.issues[0] : undefined;
      if (first) return `${first.path.length ? `${first.path.join('.')}: ` : ''}${first.message}`;
      return typeof v === 'number' ? 'must be a whole number of at least 1' : 'must be a number (keep the newest N) or tiers such as { daily: 7, weekly: 4 }';
    },
  });
  return described(either.optional(), {
    description: `Retention of this job's backups ${where}, applied after each successful run: a number keeps the newest N; tiers such as { last: 3, daily: 7, weekly: 4, monthly: 12, yearly: 2 } keep, per tier, the newest backup of each of the last N periods that have one (periods in UTC, or the job's timezone). Backups marked with \`onedump mark --keep\` are never deleted. See docs/retention.md.`,
    example: { last: 3, daily: 7, weekly: 4, monthly: 12 },
  });
}

/** `keep: 7` → "keep 7"; tiers → "keep last 3, daily 7". */
export function describeKeep(k: KeepPolicy): string {
  if (typeof k === 'number') return `keep ${k}`;
  return `keep ${KEEP_TIERS.filter((t) => k[t] !== undefined).map((t) => `${t} ${k[t]}`).join(', ')}`;
}
