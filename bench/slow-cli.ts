// A stand-in root program for benchmarks and manual runs until the real one (src/cli/main.ts) exists.
import { Command } from 'commander';
import { register } from '../src/cli/slow.js';

const program = new Command('onedump').option('--json', 'machine-readable output').option('--log-level <level>');
register(program);
await program.parseAsync(process.argv);
