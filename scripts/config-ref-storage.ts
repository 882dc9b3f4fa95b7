/**
 * Prints the key tables of docs/CONFIG_REF.md for storage backends from their zod declarations (description,
 * example, secret and Go-key markers), so the reference cannot drift from the code.
 * Usage: npx tsx scripts/config-ref-storage.ts [kind...]   (default: s3 sftp)
 */
import type { z } from 'zod';
import { storageBackends } from '../src/storage/registry.js';
import { metaOf } from '../src/config/fields.js';

const kinds = process.argv.slice(2).length ? process.argv.slice(2) : ['s3', 'sftp'];
for (const kind of kinds) {
  const b = storageBackends.find((x) => x.kind === kind);
  if (!b) throw new Error(`unknown storage "${kind}"`);
  const shape = (b.options as unknown as z.ZodObject).shape as Record<string, z.ZodType>;
  const out = [`### storage.${b.kind}[]`, '', b.summary, '', '| key | required | description | example |', '|---|---|---|---|'];
  for (const [k, f] of Object.entries(shape)) {
    const m = metaOf(f);
    const optional = f.safeParse(undefined).success;
    const ex = m?.example === undefined ? '' : `\`${typeof m.example === 'string' ? m.example : JSON.stringify(m.example)}\``;
    const notes = `${m?.secret ? ' Secret: write `${VAR}`, a `VAR_FILE` variable or an `enc:` value; never logged.' : ''}${m?.go ? ' (Go tool key.)' : ''}`;
    out.push(`| \`${k}\` | ${optional ? 'no' : 'yes'} | ${(m?.description ?? '').replace(/\|/g, '\\|')}${notes} | ${ex} |`);
  }
  process.stdout.write(out.join('\n') + '\n\n');
}
