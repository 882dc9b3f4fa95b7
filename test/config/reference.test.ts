import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configReference } from '../../src/config/reference.js';

describe('CONFIG_REF.md', () => {
  it('is what the schema generates (run npx tsx scripts/gen-config-ref.ts after changing a key)', () => {
    const doc = readFileSync(join(__dirname, '..', '..', 'CONFIG_REF.md'), 'utf8');
    expect(doc).toBe(configReference());
  });

  it('documents every storage and its Go keys', () => {
    const ref = configReference();
    for (const key of ['`bucket`', '`access-key-id`', '`folderid`', '`refreshtoken`', '`sshhost`', '`maxjobs`', '`incomingwebhook`']) {
      expect(ref).toContain(key);
    }
    expect(ref).toMatch(/\| `dbdsn` \| string \| required, secret, Go key \|/);
  });
});
