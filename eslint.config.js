import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.tmp/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'warn',
      'no-empty': ['error', { allowEmptyCatch: true }],
      'no-regex-spaces': 'off',
    },
  },
  { files: ['bin/**', 'bench/**/*.mjs'], languageOptions: { globals: { process: 'readonly', console: 'readonly' } } },
  {
    files: ['scripts/import-meta-url-shim.js', 'scripts/sea-sshcrypto.js', '**/*.cjs'],
    languageOptions: { globals: { require: 'readonly', __filename: 'readonly', process: 'readonly', console: 'readonly', module: 'writable' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  // Parsers match control bytes on purpose (NUL in slow-log queries, binlog framing).
  { files: ['src/slow/**', 'src/binlog/**', 'src/dump/**'], rules: { 'no-control-regex': 'off' } },
);
