// Preloaded into a CLI child by test/config/pathological.test.ts (NODE_OPTIONS=--import=…): at exit, writes the
// process's peak resident memory (kB) to the file named by ONEDUMP_TEST_MAXRSS_FILE.
import { writeFileSync } from 'node:fs';
import process from 'node:process';

const file = process.env.ONEDUMP_TEST_MAXRSS_FILE;
if (file) process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS)));
