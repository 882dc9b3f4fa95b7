import type { SlowReport } from './report.js';

/**
 * The human report: a header line with the run's totals, then one row per group, then each listed
 * group's fingerprint and slowest sample in full (the row only has room for the start of it).
 */
export function renderTable(report: SlowReport, width = 120): string {
  const lines: string[] = [];
  const range = report.first_seen ? `${report.first_seen} .. ${report.last_seen}` : 'no timestamps';
  lines.push(
    `# ${report.entries} entries, ${report.groups} groups, ${report.skipped} skipped` +
      (report.filtered ? `, ${report.filtered} filtered out` : '') +
      `; ${range}; total query time ${seconds(report.query_time_total)}`,
  );
  if (report.results.length === 0) {
    lines.push('# no queries');
    return lines.join('\n') + '\n';
  }
  const header = ['rank', 'id', 'count', 'total', 'avg', 'p95', 'max', 'lock', 'rows_exam', 'fingerprint'];
  const rows = report.results.map((r, i) => [
    String(i + 1),
    r.fingerprint_id,
    String(r.count),
    seconds(r.query_time_total),
    seconds(r.query_time_avg),
    seconds(r.query_time_p95),
    seconds(r.query_time_max),
    seconds(r.lock_time_total),
    String(r.rows_examined_total),
    r.fingerprint.replace(/\s+/g, ' '),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  const fixed = widths.slice(0, -1).reduce((sum, w) => sum + w + 2, 0);
  const fpWidth = Math.max(20, width - fixed);
  const format = (row: string[]): string =>
    row
      .map((cell, c) => {
        if (c === row.length - 1) return cell.length > fpWidth ? `${cell.slice(0, fpWidth - 1)}…` : cell;
        return c === 1 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!);
      })
      .join('  ');
  lines.push(format(header), ...rows.map(format), '');
  report.results.forEach((r, i) => {
    lines.push(`# ${i + 1}. ${r.fingerprint_id}  count ${r.count}  users ${r.users.join(',') || '-'}`);
    lines.push(`#    databases ${r.databases.join(',') || '-'}  hosts ${r.hosts.join(',') || '-'}`);
    lines.push(`#    seen ${r.first_seen || '-'} .. ${r.last_seen || '-'}`);
    lines.push(`#    slowest (${seconds(r.query_time_max)} at ${r.time || r.first_seen}): ${oneLine(r.query, 400)}`);
  });
  return lines.join('\n') + '\n';
}

function seconds(n: number): string {
  if (n >= 100) return `${n.toFixed(0)}s`;
  if (n >= 1) return `${n.toFixed(2)}s`;
  if (n >= 0.001) return `${(n * 1000).toFixed(1)}ms`;
  return `${Math.round(n * 1e6)}µs`;
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
