// Regenerates CONFIG_REF.md from the config schema: npx tsx scripts/gen-config-ref.ts
import { writeFileSync } from 'node:fs';
import { configReference } from '../src/config/reference.js';

writeFileSync(new URL('../CONFIG_REF.md', import.meta.url), configReference());
