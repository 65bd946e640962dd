// Paired comparisons over seeds: mean ± sample sd, the paired t statistic and its two-sided p-value
// (Student's t with n − 1 degrees of freedom, through the regularized incomplete beta function).

/** Mean and sample standard deviation (n − 1; 0 for one value). */
export function meanSd(values: number[]): { mean: number; sd: number } {
  const mean = values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
  const variance =
    values.length > 1 ? values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (values.length - 1) : 0;
  return { mean, sd: Math.sqrt(variance) };
}

export interface PairedDifference {
  /** Per-seed differences a − b. */
  differences: number[];
  mean: number;
  sd: number;
  /** Paired t statistic (mean / (sd / √n)); ±∞ when every difference is the same non-zero value. */
  t: number;
  df: number;
  /** Two-sided p-value of the paired t-test; NaN with fewer than 2 pairs. */
  p: number;
}

/** The paired t-test of a − b over seeds (the same seed's runs paired). */
export function pairedDifference(a: number[], b: number[]): PairedDifference {
  if (a.length !== b.length) throw new Error(`pairedDifference: ${a.length} vs ${b.length} values`);
  const differences = a.map((value, index) => value - b[index]!);
  const { mean, sd } = meanSd(differences);
  const n = differences.length;
  const df = n - 1;
  if (n < 2) return { differences, mean, sd, t: Number.NaN, df, p: Number.NaN };
  if (sd === 0) {
    const t = mean === 0 ? 0 : Math.sign(mean) * Number.POSITIVE_INFINITY;
    return { differences, mean, sd, t, df, p: mean === 0 ? 1 : 0 };
  }
  const t = mean / (sd / Math.sqrt(n));
  return { differences, mean, sd, t, df, p: studentTwoSidedP(t, df) };
}

/** P(|T| ≥ |t|) for Student's t with `df` degrees of freedom: I_{df/(df+t²)}(df/2, 1/2). */
export function studentTwoSidedP(t: number, df: number): number {
  if (!Number.isFinite(t)) return 0;
  return regularizedBeta(df / (df + t * t), df / 2, 0.5);
}

/** ln Γ(x) (Lanczos, g = 7, n = 9; |error| < 1e-13 for x > 0). */
export function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let sum = c[0]!;
  for (let i = 1; i < 9; i++) sum += c[i]! / (z + i);
  const tt = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(tt) - tt + Math.log(sum);
}

/** I_x(a, b), the regularized incomplete beta function (Lentz's continued fraction). */
export function regularizedBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  // The fraction converges fast for x < (a + 1) / (a + b + 2); otherwise use the symmetry.
  if (x > (a + 1) / (a + b + 2)) return 1 - regularizedBeta(1 - x, b, a);
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let f = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let numerator = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + numerator * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + numerator / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    f *= d * c;
    numerator = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + numerator * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + numerator / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return (front * f) / a;
}
