import { Command } from 'commander';
import { writeFileSync, existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { addGlobalOptions, action, configPath, examples, globals, loadConfigFor } from './common.js';
import { configJsonSchema } from '../config/json-schema.js';
import { defaultKeyFile, encryptSecret, loadKeyMaterial } from '../config/secrets.js';
import { UsageError } from '../util/errors.js';
import { mkdirsSync } from '../util/mkdirs.js';

export function register(program: Command): void {
  const config = program.command('config').description('check a config, print its JSON Schema, encrypt a secret value');

  const validate = config
    .command('validate')
    .description('validate a config file: every problem is listed with its path; nothing is run')
    .argument('[file]', 'config file (or -c FILE)');
  addGlobalOptions(validate);
  validate.addHelpText('after', examples('onedump config validate -c jobs.yml', 'onedump config validate jobs.yml --json'));
  validate.action(
    action(async (file: string | undefined, _opts: unknown, cmd: Command) => {
      const g = globals(cmd);
      const path = file ?? (configPath(g) as string);
      const loaded = await loadConfigFor(path);
      const jobs = loaded.config.jobs.map((j) => j.name);
      if (g.json) process.stdout.write(JSON.stringify({ ok: true, file: path, jobs }) + '\n');
      else process.stdout.write(`${path}: valid (${jobs.length} job${jobs.length === 1 ? '' : 's'}: ${jobs.join(', ')})\n`);
    }),
  );

  const schema = config.command('schema').description('print the JSON Schema of the config (for editor completion)');
  schema.addHelpText(
    'after',
    examples('onedump config schema > onedump.schema.json', '# then in jobs.yml:  # yaml-language-server: $schema=./onedump.schema.json'),
  );
  schema.action(
    action(async () => {
      process.stdout.write(JSON.stringify(configJsonSchema(), null, 2) + '\n');
    }),
  );

  const encrypt = config
    .command('encrypt')
    .description('encrypt a secret read from stdin into an enc:v1:… value for the config')
    .option('--generate-key', `create a new random key in ${defaultKeyFile()} (or ONEDUMP_SECRET_KEY_FILE) if none exists`);
  encrypt.addHelpText(
    'after',
    examples(
      'onedump config encrypt --generate-key < /dev/null        create the key file once',
      "printf '%s' 's3cret' | onedump config encrypt          prints enc:v1:…",
      'then in jobs.yml:   dbdsn: "root:enc:v1:…" is not supported; put the whole value:  dbdsn: enc:v1:…',
    ),
  );
  encrypt.action(
    action(async (opts: { generateKey?: boolean }) => {
      if (opts.generateKey) {
        const file = process.env.ONEDUMP_SECRET_KEY_FILE ?? defaultKeyFile();
        if (!existsSync(file)) {
          mkdirsSync(dirname(file), 0o700);
          writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
          process.stderr.write(`created key file ${file} (mode 0600); back it up: configs cannot be decrypted without it\n`);
        }
      }
      const key = loadKeyMaterial();
      if (!key) throw new UsageError(`no encryption key: set ONEDUMP_SECRET_KEY, or run onedump config encrypt --generate-key.`);
      if (process.stdin.isTTY) process.stderr.write('secret (end with Ctrl-D): ');
      const input = process.stdin.isTTY || !opts.generateKey || !process.stdin.readableEnded ? readFileSync(0, 'utf8').replace(/\r?\n$/, '') : '';
      if (!input) {
        if (opts.generateKey) return;
        throw new UsageError('nothing to encrypt: pipe the secret on stdin (it is never taken from the command line).');
      }
      process.stdout.write(encryptSecret(input, key) + '\n');
    }),
  );
}

