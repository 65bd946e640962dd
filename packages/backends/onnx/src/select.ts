/**
 * Linear-time selection on a scratch copy of non-negative weights (unnormalised probabilities): no full
 * sort of the vocabulary per step.
 */

/** Rearranges `work[lo, hi)` into `> pivot | == pivot | < pivot`; returns the two boundaries. */
function partition3(work: Float32Array, lo: number, hi: number, pivot: number): [number, number] {
  let lt = lo;
  let i = lo;
  let gt = hi;
  while (i < gt) {
    const value = work[i] as number;
    if (value > pivot) {
      work[i] = work[lt] as number;
      work[lt] = value;
      lt++;
      i++;
    } else if (value < pivot) {
      gt--;
      work[i] = work[gt] as number;
      work[gt] = value;
    } else i++;
  }
  return [lt, gt];
}

function medianOfThree(work: Float32Array, lo: number, hi: number): number {
  const a = work[lo] as number;
  const b = work[(lo + hi) >>> 1] as number;
  const c = work[hi - 1] as number;
  return a < b ? (b < c ? b : Math.max(a, c)) : a < c ? a : Math.max(b, c);
}

/** The k-th largest value (1-based) of `work[0, n)`; `work` is reordered. */
export function kthLargest(work: Float32Array, n: number, k: number): number {
  let lo = 0;
  let hi = n;
  let rank = k;
  for (;;) {
    const pivot = medianOfThree(work, lo, hi);
    const [lt, gt] = partition3(work, lo, hi, pivot);
    const greater = lt - lo;
    const equal = gt - lt;
    if (rank <= greater) hi = lt;
    else if (rank <= greater + equal) return pivot;
    else {
      rank -= greater + equal;
      lo = gt;
    }
  }
}

/**
 * Nucleus (top-p) threshold: the largest value τ such that the values ≥ τ in `work[0, n)` sum to at least
 * `targetMass` (the smallest top set reaching the target). `work` is reordered.
 */
export function nucleusThreshold(work: Float32Array, n: number, targetMass: number): number {
  let lo = 0;
  let hi = n;
  let massAbove = 0;
  for (;;) {
    if (hi - lo <= 0) return 0;
    const pivot = medianOfThree(work, lo, hi);
    const [lt, gt] = partition3(work, lo, hi, pivot);
    let greaterMass = 0;
    for (let i = lo; i < lt; i++) greaterMass += work[i] as number;
    const equalMass = pivot * (gt - lt);
    if (lt > lo && massAbove + greaterMass >= targetMass) hi = lt;
    else if (massAbove + greaterMass + equalMass >= targetMass || gt === hi) return pivot;
    else {
      massAbove += greaterMass + equalMass;
      lo = gt;
    }
  }
}
