/**
 * Bounded-memory quantiles for one group.
 *
 * Up to EXACT_LIMIT values are kept as they are, so small groups get exact nearest-rank quantiles.
 * Past that the values move into a log-bucketed histogram (the DDSketch idea): bucket i holds values
 * in (γ^(i-1), γ^i] with γ = (1+α)/(1-α), and a quantile is answered with the bucket's midpoint
 * 2γ^i/(γ+1), which is within a relative error α of the true nearest-rank value. With α = 0.5 %
 * and query times from 1 µs to 1 day (11 decades) a group holds at most ~2,500 buckets, usually a few
 * dozen; zeros are counted apart.
 */
export const RELATIVE_ACCURACY = 0.005;
const EXACT_LIMIT = 512;
const GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY);
const LOG_GAMMA = Math.log(GAMMA);

export class QuantileSketch {
  private exact: number[] | undefined = [];
  private buckets = new Map<number, number>();
  private zeros = 0;
  private n = 0;

  add(value: number): void {
    this.n++;
    if (this.exact !== undefined) {
      this.exact.push(value);
      if (this.exact.length > EXACT_LIMIT) {
        const values = this.exact;
        this.exact = undefined;
        for (const v of values) this.addToBuckets(v);
      }
      return;
    }
    this.addToBuckets(value);
  }

  /** Nearest-rank quantile: the value at rank ⌈q·n⌉. */
  quantile(q: number): number {
    if (this.n === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.n));
    if (this.exact !== undefined) {
      const sorted = [...this.exact].sort((a, b) => a - b);
      return sorted[rank - 1]!;
    }
    if (rank <= this.zeros) return 0;
    let seen = this.zeros;
    const keys = [...this.buckets.keys()].sort((a, b) => a - b);
    for (const key of keys) {
      seen += this.buckets.get(key)!;
      if (seen >= rank) return (2 * Math.pow(GAMMA, key)) / (GAMMA + 1);
    }
    return (2 * Math.pow(GAMMA, keys[keys.length - 1]!)) / (GAMMA + 1);
  }

  private addToBuckets(value: number): void {
    if (value <= 0) {
      this.zeros++;
      return;
    }
    const key = Math.ceil(Math.log(value) / LOG_GAMMA);
    this.buckets.set(key, (this.buckets.get(key) ?? 0) + 1);
  }
}
