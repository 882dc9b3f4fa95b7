import type { z } from 'zod';

/** Formats a config path the way users read it: jobs[1].storage.s3[0].bucket */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      // A key is user text: keep it printable and short (a 3 MB key must not become a 3 MB message).
      const name = String(seg).replace(/[\p{Cc}\p{Cs}]/gu, '?');
      const shown = name.length > 60 ? `${name.slice(0, 60)}…` : name;
      out += out ? `.${shown}` : shown;
    }
  }
  return out || '(top level)';
}

function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema as unknown as { def: { type: string; innerType?: z.ZodType; in?: z.ZodType; out?: z.ZodType } };
  for (let i = 0; i < 8; i++) {
    const t = s.def.type;
    if ((t === 'optional' || t === 'default' || t === 'nullable' || t === 'prefault' || t === 'readonly' || t === 'catch') && s.def.innerType) {
      s = s.def.innerType as unknown as typeof s;
    } else if (t === 'pipe' && s.def.in) {
      s = s.def.in as unknown as typeof s;
    } else break;
  }
  return s as unknown as z.ZodType;
}

/** The schema that validates the value at `path`, when it can be found. */
export function schemaAt(root: z.ZodType, path: ReadonlyArray<PropertyKey>): z.ZodType | undefined {
  let s: z.ZodType | undefined = unwrap(root);
  for (const seg of path) {
    if (!s) return undefined;
    const def: { type: string; element?: z.ZodType } = (s as unknown as { def: { type: string; element?: z.ZodType } }).def;
    if (def.type === 'array' && typeof seg === 'number') s = def.element && unwrap(def.element);
    else if (def.type === 'object' && typeof seg === 'string') {
      const shape = (s as unknown as { shape: Record<string, z.ZodType> }).shape;
      s = shape[seg] && unwrap(shape[seg]);
    } else return undefined;
  }
  return s;
}

export function objectKeys(schema: z.ZodType | undefined): string[] {
  if (!schema) return [];
  const shape = (schema as unknown as { shape?: Record<string, unknown> }).shape;
  return shape ? Object.keys(shape) : [];
}

export function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] as number;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j] as number;
      prev[j] = Math.min((prev[j] as number) + 1, (prev[j - 1] as number) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length] as number;
}

/** The closest known key, when it is close enough to be a likely typo. */
export function didYouMean(key: string, known: string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  const limit = Math.max(2, Math.floor(key.length / 3));
  let best: string | undefined;
  let bestScore = Infinity;
  for (const k of known) {
    // The distance is at least the difference in length: skip the quadratic work for keys that cannot be typos.
    if (Math.abs(k.length - key.length) > limit) continue;
    const d = norm(k) === norm(key) ? 0 : levenshtein(key.toLowerCase(), k.toLowerCase());
    if (d < bestScore) {
      bestScore = d;
      best = k;
    }
  }
  return best !== undefined && bestScore <= limit ? best : undefined;
}

/** More unknown keys than this in one mapping are summarised in one line. */
const MANY_UNKNOWN_KEYS = 10;

/** One line per zod issue: `path: what is wrong` (with a did-you-mean hint for unknown keys). */
export function formatIssues(root: z.ZodType, issues: ReadonlyArray<z.core.$ZodIssue>): string[] {
  const out: string[] = [];
  for (const issue of issues) {
    const where = formatPath(issue.path);
    switch (issue.code) {
      case 'unrecognized_keys': {
        const known = objectKeys(schemaAt(root, issue.path));
        if (issue.keys.length > MANY_UNKNOWN_KEYS) {
          // Not a few typos but the wrong file or a broken indent: one line, no hints.
          const some = issue.keys.slice(0, 3).map((k) => formatPath([k]));
          out.push(
            `${where}: ${issue.keys.length} unknown keys (${some.join(', ')}, …)${known.length ? `; the keys known here are ${known.join(', ')}` : ''}`,
          );
          break;
        }
        for (const key of issue.keys) {
          const hint = didYouMean(key, known);
          const keyPath = formatPath([...issue.path, key]);
          out.push(
            `${keyPath}: unknown key${hint ? ` (did you mean "${hint}"?)` : known.length ? ` (known keys here: ${known.join(', ')})` : ''}`,
          );
        }
        break;
      }
      case 'invalid_type': {
        const input = (issue as { input?: unknown }).input;
        if (input === undefined) out.push(`${where}: required`);
        else out.push(`${where}: expected ${issue.expected}, got ${describeType(input)}`);
        break;
      }
      case 'invalid_value':
        out.push(`${where}: must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`);
        break;
      case 'invalid_union': {
        const first = issue.errors.flat()[0];
        // A union with its own message (e.g. keep:, a number or tiers) says best what is wrong.
        out.push(`${where}: ${issue.message && issue.message !== 'Invalid input' ? issue.message : (first?.message ?? issue.message)}`);
        break;
      }
      default:
        out.push(`${where}: ${issue.message}`);
    }
  }
  return out;
}

function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  // Values are never echoed: the field may hold a secret.
  return typeof v === 'string' ? 'a string' : typeof v;
}
