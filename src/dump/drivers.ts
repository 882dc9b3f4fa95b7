/** Driver names accepted in `dbdriver` (the Go tool's values; postgresql and pgdump are the same driver). */
export const DRIVERS = ['mysql', 'mysqldump', 'postgresql', 'pgdump'] as const;
export type DriverName = (typeof DRIVERS)[number];

export function driverEngine(d: DriverName): 'mysql' | 'postgres' {
  return d === 'postgresql' || d === 'pgdump' ? 'postgres' : 'mysql';
}
