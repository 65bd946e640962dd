/** Upper bounds (exclusive) of the token-length histogram bins; the last bin is open-ended. */
export const histogramBounds: readonly number[] = [
  32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768,
];

/** A token-length histogram with power-of-two bins plus count, sum, min and max. */
export interface TokenHistogram {
  /** `counts[i]` counts lengths below `histogramBounds[i]` (and at least the previous bound); the last is the rest. */
  counts: number[];
  count: number;
  sum: number;
  min: number;
  max: number;
}

export function emptyHistogram(): TokenHistogram {
  return { counts: new Array(histogramBounds.length + 1).fill(0), count: 0, sum: 0, min: 0, max: 0 };
}

export function addToHistogram(histogram: TokenHistogram, value: number): void {
  let bin = 0;
  while (bin < histogramBounds.length && value >= histogramBounds[bin]!) bin++;
  histogram.counts[bin] = (histogram.counts[bin] ?? 0) + 1;
  histogram.min = histogram.count === 0 ? value : Math.min(histogram.min, value);
  histogram.max = histogram.count === 0 ? value : Math.max(histogram.max, value);
  histogram.count++;
  histogram.sum += value;
}

export function mergeHistogram(into: TokenHistogram, from: TokenHistogram): void {
  if (from.count === 0) return;
  for (let bin = 0; bin < from.counts.length; bin++)
    into.counts[bin] = (into.counts[bin] ?? 0) + (from.counts[bin] ?? 0);
  into.min = into.count === 0 ? from.min : Math.min(into.min, from.min);
  into.max = into.count === 0 ? from.max : Math.max(into.max, from.max);
  into.count += from.count;
  into.sum += from.sum;
}

/** Bin labels such as `<32`, `32–63`, `≥32768`. */
export function histogramLabels(): string[] {
  return [
    ...histogramBounds.map((bound, index) =>
      index === 0 ? `<${bound}` : `${histogramBounds[index - 1]}–${bound - 1}`,
    ),
    `≥${histogramBounds[histogramBounds.length - 1]}`,
  ];
}

/** Adds numeric counters of `from` into `into` (keys created as needed). */
export function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [key, value] of Object.entries(from)) into[key] = (into[key] ?? 0) + value;
}
