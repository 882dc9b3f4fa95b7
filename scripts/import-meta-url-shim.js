// esbuild inject for the CommonJS bundle: ESM dependencies (node-cron) read import.meta.url at load time.
export const importMetaUrl = require('node:url').pathToFileURL(__filename).href;
