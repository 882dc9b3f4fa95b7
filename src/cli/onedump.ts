#!/usr/bin/env node
// The program's entry point (bin/onedump.js, bundles and the single executable).
import { isSlowWorker } from '../slow/worker.js';
import { main } from './main.js';

// In a bundle this file is also the code of the slow-log worker threads (src/slow/pool.ts): those
// run worker.ts's message loop, not the CLI.
if (!isSlowWorker()) void main();
