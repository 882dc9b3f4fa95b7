import zlib from 'node:zlib';

/**
 * CRC-32 (IEEE, the polynomial binlog checksums use). Node ≥ 20.15 and 22.2 have a native zlib.crc32; older Node 20
 * releases do not, so a table-driven fallback keeps the reader working there (about 10× slower, still streaming).
 */
type Crc32 = (data: Uint8Array, initial?: number) => number;

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32Table(data: Uint8Array, initial = 0): number {
  let c = (initial ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) c = (TABLE[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const native = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

export const crc32: Crc32 = native ? (data, initial = 0) => native(data, initial) >>> 0 : crc32Table;
export const crc32IsNative = Boolean(native);
