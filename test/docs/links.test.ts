import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT } from '../../testutils/cli.js';
import { docFiles } from './doc-examples.js';

// Relative links between the documents point at files that exist (CONFIG_REF.md and development.md moved to the top
// level; the guides stayed in docs/).
describe('documentation links', () => {
  it('every relative link of README.md, CONFIG_REF.md, development.md, docs/*.md and deploy/README.md resolves', () => {
    const broken: string[] = [];
    for (const file of [...docFiles(), 'CONFIG_REF.md', 'deploy/README.md']) {
      const text = readFileSync(join(ROOT, file), 'utf8').replace(/```[\s\S]*?```/g, '');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = (m[1] as string).split('#')[0] as string;
        if (!target || /^[a-z]+:/i.test(target)) continue; // #anchor, https:, mailto:
        if (!existsSync(join(ROOT, dirname(file), target))) broken.push(`${file}: ${m[1]}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
