export { analyzeSlowLogs, type AnalyzeOptions, type EntryFilter } from './analyze.js';
export { fingerprint, fingerprintId } from './fingerprint.js';
export { maskQuery } from './mask.js';
export { errorReport, SORT_KEYS, type SlowReport, type SlowResult, type SortKey } from './report.js';
export { listInputFiles, SlowLogError } from './source.js';
export { renderTable } from './table.js';
export { parseTimeBound } from './time.js';
