/**
 * Bounded-memory quantiles for one group.
 *
 * Up to EXACT_LIMIT values are kept as they are, so small groups get exact nearest-rank quantiles.
 * Past that the values move into a log-bucketed histogram (the DDSketch idea): bucket i holds values
 * in (γ^(i-1), γ^i] with γ = (1+α)/(1-α), and a quantile is answered with the bucket's midpoint
 * 2γ^i/(γ+1), which is within a relative error α of the true nearest-rank value. With α = 0.5 %
 * and query times from 1 µs to 1 day (11 decades) a group holds at most ~2,500 buckets (10 KB),
 * usually a few dozen; zeros are counted apart. The buckets are one typed array over the range of
 * keys seen, grown on demand.
 *
 * Sketches merge exactly: merging the sketches of two halves of a log gives the same state as
 * adding every value to one sketch, whatever the split (worker threads rely on this).
 */
export const RELATIVE_ACCURACY = 0.005;
const EXACT_LIMIT = 512;
const GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY);
const INV_LOG_GAMMA = 1 / Math.log(GAMMA);

/** A sketch as plain data (what crosses a worker boundary). */
export interface SketchState {
  n: number;
  zeros: number;
  exact: number[] | null;
  /** Key of counts[0]. */
  offset: number;
  counts: Uint32Array | null;
}

export class QuantileSketch {
  private exact: number[] | null = [];
  private counts: Uint32Array | null = null;
  private offset = 0;
  private zeros = 0;
  private n = 0;

  static fromState(state: SketchState): QuantileSketch {
    const sketch = new QuantileSketch();
    sketch.n = state.n;
    sketch.zeros = state.zeros;
    sketch.exact = state.exact;
    sketch.offset = state.offset;
    sketch.counts = state.counts;
    return sketch;
  }

  state(): SketchState {
    return { n: this.n, zeros: this.zeros, exact: this.exact, offset: this.offset, counts: this.counts };
  }

  get size(): number {
    return this.n;
  }

  add(value: number): void {
    this.n++;
    const exact = this.exact;
    if (exact !== null) {
      exact.push(value);
      if (exact.length > EXACT_LIMIT) this.toBuckets();
      return;
    }
    this.addToBuckets(value, 1);
  }

  /** Adds every value of `other` (which is left unchanged). */
  merge(other: QuantileSketch): void {
    if (other.n === 0) return;
    if (this.exact !== null && other.exact !== null && this.exact.length + other.exact.length <= EXACT_LIMIT) {
      for (const v of other.exact) this.exact.push(v);
      this.n += other.n;
      return;
    }
    if (this.exact !== null) this.toBuckets();
    this.n += other.n;
    if (other.exact !== null) {
      for (const v of other.exact) this.addToBuckets(v, 1);
      return;
    }
    this.zeros += other.zeros;
    const counts = other.counts!;
    for (let i = 0; i < counts.length; i++) if (counts[i] !== 0) this.addKey(other.offset + i, counts[i]!);
  }

  /** Nearest-rank quantile: the value at rank ⌈q·n⌉. */
  quantile(q: number): number {
    if (this.n === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.n));
    if (this.exact !== null) {
      const sorted = Float64Array.from(this.exact).sort();
      return sorted[rank - 1]!;
    }
    if (rank <= this.zeros) return 0;
    let seen = this.zeros;
    const counts = this.counts!;
    let last = 0;
    for (let i = 0; i < counts.length; i++) {
      if (counts[i] === 0) continue;
      last = i;
      seen += counts[i]!;
      if (seen >= rank) break;
    }
    return (2 * Math.pow(GAMMA, this.offset + last)) / (GAMMA + 1);
  }

  private toBuckets(): void {
    const values = this.exact!;
    this.exact = null;
    for (const v of values) this.addToBuckets(v, 1);
  }

  private addToBuckets(value: number, count: number): void {
    if (value <= 0) {
      this.zeros += count;
      return;
    }
    // Clamped to 1e-13 s .. 1e13 s so that a garbage value cannot grow the array without bound.
    const key = Math.ceil(Math.log(value) * INV_LOG_GAMMA);
    this.addKey(key < -3000 ? -3000 : key > 3000 ? 3000 : key, count);
  }

  private addKey(key: number, count: number): void {
    let counts = this.counts;
    if (counts === null) {
      this.offset = key - 8;
      counts = this.counts = new Uint32Array(32);
    }
    let i = key - this.offset;
    if (i < 0 || i >= counts.length) {
      const low = Math.min(this.offset, key - 8);
      const high = Math.max(this.offset + counts.length, key + 9);
      const grown = new Uint32Array(Math.max(high - low, counts.length * 2));
      grown.set(counts, this.offset - low);
      this.counts = counts = grown;
      this.offset = low;
      i = key - low;
    }
    counts[i]! += count;
  }
}
