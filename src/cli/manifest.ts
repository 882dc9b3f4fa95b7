import type { Command } from 'commander';
import { action, examples } from './common.js';
import { manifestJsonSchema } from '../jobs/manifest.js';

export function register(program: Command): void {
  const m = program.command('manifest').description('the backup manifest (NAME.manifest.json) written next to every backup');
  m.command('schema')
    .description('print the JSON Schema of the backup manifest (versioned: its "version" field)')
    .addHelpText('after', examples('onedump manifest schema > onedump-manifest.schema.json'))
    .action(
      action(async () => {
        process.stdout.write(JSON.stringify(manifestJsonSchema(), null, 2) + '\n');
      }),
    );
}
