#!/usr/bin/env node
// The program's entry point (bin/onedump.js, bundles and the single executable).
import { main } from './main.js';

void main();
