import { configJsonSchema } from './json-schema.js';
import { driverReference } from '../dump/driver-docs.js';

interface JsonSchema {
  type?: string | string[];
  description?: string;
  secret?: boolean;
  example?: unknown;
  go?: boolean;
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
}

function typeOf(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  if (s.anyOf) return [...new Set(s.anyOf.map(typeOf))].join(' or ');
  if (s.type === 'array') return `list of ${s.items ? typeOf(s.items) : 'values'}`;
  if (s.type === 'object' && !s.properties) return 'mapping';
  return Array.isArray(s.type) ? s.type.join(' or ') : (s.type ?? 'value');
}

function rows(s: JsonSchema, prefix: string): string[] {
  const out: string[] = [];
  const req = new Set(s.required ?? []);
  for (const [key, p] of Object.entries(s.properties ?? {})) {
    const flags = [req.has(key) ? 'required' : '', p.secret ? 'secret' : '', p.go ? 'Go key' : ''].filter(Boolean).join(', ');
    const dflt = p.default !== undefined ? ` Default: \`${JSON.stringify(p.default)}\`.` : '';
    const ex = p.example !== undefined ? ` Example: \`${typeof p.example === 'string' ? p.example : JSON.stringify(p.example)}\`.` : '';
    const nested = p.type === 'object' && p.properties && !p.description?.startsWith('!');
    out.push(`| \`${prefix}${key}\` | ${typeOf(p)} | ${flags} | ${(p.description ?? '').replace(/\|/g, '\\|')}${dflt}${ex} |`);
    if (nested && prefix.split('.').length < 3 && key !== 'storage' && key !== 'notifier') out.push(...rows(p, `${prefix}${key}.`));
  }
  return out;
}

const HEAD = ['| key | type | | description |', '|---|---|---|---|'];

/** CONFIG_REF.md, generated from the zod declarations (scripts/gen-config-ref.ts writes it; a test checks it). */
export function configReference(): string {
  const root = configJsonSchema() as JsonSchema;
  const job = root.properties!.jobs!.items!;
  const storage = job.properties!.storage!;
  const notifier = root.properties!.notifier!;
  const parts: string[] = [
    '# Configuration reference',
    '',
    'Generated from the schema by `npx tsx scripts/gen-config-ref.ts`; do not edit by hand. `onedump config schema` prints',
    'the same schema as JSON Schema. Keys marked "Go key" exist in the Go tool with the same meaning. Any value may use',
    '`${VAR}` / `${VAR:-default}` (VAR_FILE names a file holding the value) and any secret may be an `enc:v1:…` value made',
    'by `onedump config encrypt`. Unknown keys are errors.',
    '',
    'A `$` not followed by `{` is kept as written (`pa$word`, `a$$b`: the Go tool has no interpolation). To write a literal',
    '`${`, double its `$`: `$${X}` is the text `${X}`. Boolean keys also take the Go tool\'s YAML 1.1 spellings `yes`/`no`,',
    '`on`/`off`, `y`/`n` (lower case, capitalised or upper case). A key with no value (`notifier:`) is the same as an absent key.',
    'A file is UTF-8 (or UTF-16 with a byte-order mark) of at most 4 MiB, nested at most 50 levels, with at most 100,000',
    'YAML values; validation lists the first 20 problems and counts the rest.',
    '',
    '## Top level',
    '',
    ...HEAD,
    ...rows({ ...root, properties: Object.fromEntries(Object.entries(root.properties!).filter(([k]) => k !== 'jobs' && k !== 'notifier')) }, ''),
    '',
    '## Jobs (`jobs[]`)',
    '',
    ...HEAD,
    ...rows(job, ''),
    '',
    ...driverReference(),
  ];
  for (const [kind, list] of Object.entries(storage.properties ?? {})) {
    parts.push(`## Storage \`${kind}\` (\`jobs[].storage.${kind}[]\`)`, '', list.description ?? '', '', ...HEAD, ...rows(list.items ?? {}, ''), '');
  }
  for (const [kind, list] of Object.entries(notifier.properties ?? {})) {
    parts.push(`## Notifier \`${kind}\` (\`notifier.${kind}[]\`)`, '', list.description ?? '', '', ...HEAD, ...rows(list.items ?? {}, ''), '');
  }
  return parts.join('\n');
}
