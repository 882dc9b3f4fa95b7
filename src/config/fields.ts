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
