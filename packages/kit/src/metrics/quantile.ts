/** One bucket of a Prometheus histogram: the count of observations at most `le` seconds (cumulative, as exposed). */
export interface Bucket {
  le: number;
  count: number;
}

/**
 * The q-quantile of what a histogram saw between two readings, as
 * Prometheus's histogram_quantile computes it: the difference of the
 * cumulative buckets, then a linear guess inside the bucket the quantile
 * falls in. Undefined when nothing was observed in between. A quantile in
 * the +Inf bucket is the highest finite bound (all that is known).
 */
export function quantileBetween(before: readonly Bucket[], now: readonly Bucket[], q: number): number | undefined {
  const earlier = new Map(before.map((b) => [b.le, b.count]));
  const delta = [...now].sort((a, b) => a.le - b.le).map((b) => ({ le: b.le, count: Math.max(0, b.count - (earlier.get(b.le) ?? 0)) }));
  return quantile(delta, q);
}

/** The q-quantile of cumulative buckets (sorted or not). */
export function quantile(buckets: readonly Bucket[], q: number): number | undefined {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const bucket of sorted) {
    if (bucket.count >= rank) {
      if (!Number.isFinite(bucket.le)) return lowerBound;
      const inBucket = bucket.count - lowerCount;
      return inBucket > 0 ? lowerBound + ((bucket.le - lowerBound) * (rank - lowerCount)) / inBucket : bucket.le;
    }
    lowerBound = Number.isFinite(bucket.le) ? bucket.le : lowerBound;
    lowerCount = bucket.count;
  }
  return lowerBound;
}

/** Requests per second between two readings of a counter; a counter that went down (a new process) counts from zero. */
export function ratePerSecond(before: number, now: number, elapsedMs: number): number {
  if (elapsedMs <= 0) return 0;
  const increase = now >= before ? now - before : now;
  return (increase * 1000) / elapsedMs;
}
