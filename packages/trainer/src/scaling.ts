import { InvalidArgumentError } from '@rlpt/spec';

/** y = a·exp(−b·x^(−c)): the paper's scaling-law form (a power-law decay of the gap to a). */
export interface ScalingLaw {
  a: number;
  b: number;
  c: number;
  /** Root mean squared error of the fit. */
  rmse: number;
  /** Coefficient of determination. */
  r2: number;
}

export function scalingLaw(law: Pick<ScalingLaw, 'a' | 'b' | 'c'>, x: number): number {
  return law.a * Math.exp(-law.b * x ** -law.c);
}

export interface FitScalingLawOptions {
  /**
   * Upper bound on the asymptote a (e.g. 1 for a pass rate, 100 for a percentage). Without it, short or
   * noisy curves can fit a huge a with a tiny c; {@link defaultMaxA} picks 1 for rates.
   */
  maxA?: number;
}

/**
 * The asymptote bound a fit of `ys` gets unless asked otherwise: 1 when every y is a rate in [0, 1]
 * (pass@k, accuracy, a mean reward), none otherwise. A rate cannot approach more than 1, and without the
 * bound a short rising curve of rates fits a huge a (e.g. 780722) with a tiny c.
 */
export function defaultMaxA(ys: ArrayLike<number>): number | undefined {
  if (ys.length === 0) return undefined;
  for (let i = 0; i < ys.length; i++) if (!(ys[i]! >= 0 && ys[i]! <= 1)) return undefined;
  return 1;
}

/**
 * Fits y = a·exp(−b·x^(−c)) with a, b, c > 0 (and a ≤ `maxA` when given) by least squares (Nelder–Mead on
 * log-parameters — a through a logistic when bounded — from several starts). x must be positive (e.g.
 * training tokens in billions).
 */
export function fitScalingLaw(
  xs: ArrayLike<number>,
  ys: ArrayLike<number>,
  options: FitScalingLawOptions = {},
): ScalingLaw {
  const maxA = options.maxA;
  if (maxA !== undefined && !(maxA > 0)) {
    throw new InvalidArgumentError({ argument: 'maxA', message: `maxA must be positive; got ${maxA}.` });
  }
  if (xs.length !== ys.length) {
    throw new InvalidArgumentError({
      argument: 'ys',
      message: `x has ${xs.length} points but y has ${ys.length}.`,
    });
  }
  if (xs.length < 3) {
    throw new InvalidArgumentError({
      argument: 'xs',
      message: `A 3-parameter fit needs at least 3 points; got ${xs.length}.`,
    });
  }
  for (let i = 0; i < xs.length; i++) {
    if (!(xs[i]! > 0) || !Number.isFinite(xs[i]!) || !Number.isFinite(ys[i]!)) {
      throw new InvalidArgumentError({
        argument: 'xs',
        message: `Point ${i} (x=${xs[i]}, y=${ys[i]}) is invalid: x must be positive and both finite.`,
      });
    }
  }
  const n = xs.length;
  // a = exp(p0), or maxA·sigmoid(p0) when bounded.
  const aOf = (p: number) => (maxA === undefined ? Math.exp(p) : maxA / (1 + Math.exp(-p)));
  const pOf = (a: number) => (maxA === undefined ? Math.log(a) : Math.log(a / (maxA - a)));
  const loss = (params: number[]): number => {
    const law = { a: aOf(params[0]!), b: Math.exp(params[1]!), c: Math.exp(params[2]!) };
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const residual = ys[i]! - scalingLaw(law, xs[i]!);
      sum += residual * residual;
    }
    return Number.isFinite(sum) ? sum : Number.POSITIVE_INFINITY;
  };
  let maxY = 0;
  for (let i = 0; i < n; i++) maxY = Math.max(maxY, Math.abs(ys[i]!));
  let best = { params: [0, 0, 0], value: Number.POSITIVE_INFINITY };
  for (const aScale of [1.05, 1.5, 3]) {
    const aStart = Math.max(maxY, 1e-9) * aScale;
    const a0 = maxA === undefined ? aStart : Math.min(aStart, maxA * 0.999);
    for (const b of [0.1, 1, 5]) {
      for (const c of [0.03, 0.3, 1]) {
        const result = nelderMead(loss, [pOf(a0), Math.log(b), Math.log(c)]);
        if (result.value < best.value) best = result;
      }
    }
  }
  const law = { a: aOf(best.params[0]!), b: Math.exp(best.params[1]!), c: Math.exp(best.params[2]!) };
  let mean = 0;
  for (let i = 0; i < n; i++) mean += ys[i]! / n;
  let total = 0;
  for (let i = 0; i < n; i++) total += (ys[i]! - mean) ** 2;
  return { ...law, rmse: Math.sqrt(best.value / n), r2: total > 0 ? 1 - best.value / total : 1 };
}

function nelderMead(
  f: (x: number[]) => number,
  start: number[],
  { iterations = 2000, tolerance = 1e-12 } = {},
): { params: number[]; value: number } {
  const dims = start.length;
  let simplex = [start, ...start.map((_, i) => start.map((value, j) => (i === j ? value + 0.5 : value)))];
  let values = simplex.map(f);
  for (let iteration = 0; iteration < iterations; iteration++) {
    const order = values.map((_, i) => i).sort((i, j) => values[i]! - values[j]!);
    simplex = order.map((i) => simplex[i]!);
    values = order.map((i) => values[i]!);
    if (Math.abs(values[dims]! - values[0]!) <= tolerance * (Math.abs(values[0]!) + 1e-30)) break;
    const centroid = new Array<number>(dims).fill(0);
    for (let i = 0; i < dims; i++) for (let j = 0; j < dims; j++) centroid[j]! += simplex[i]![j]! / dims;
    const worst = simplex[dims]!;
    const along = (t: number) => centroid.map((value, j) => value + t * (worst[j]! - value));
    const reflected = along(-1);
    const reflectedValue = f(reflected);
    if (reflectedValue < values[0]!) {
      const expanded = along(-2);
      const expandedValue = f(expanded);
      [simplex[dims], values[dims]] =
        expandedValue < reflectedValue ? [expanded, expandedValue] : [reflected, reflectedValue];
    } else if (reflectedValue < values[dims - 1]!) {
      [simplex[dims], values[dims]] = [reflected, reflectedValue];
    } else {
      const contracted = reflectedValue < values[dims]! ? along(-0.5) : along(0.5);
      const contractedValue = f(contracted);
      if (contractedValue < Math.min(reflectedValue, values[dims]!)) {
        [simplex[dims], values[dims]] = [contracted, contractedValue];
      } else {
        const bestPoint = simplex[0]!;
        simplex = simplex.map((point, i) =>
          i === 0 ? point : point.map((value, j) => bestPoint[j]! + 0.5 * (value - bestPoint[j]!)),
        );
        values = simplex.map(f);
      }
    }
  }
  const bestIndex = values.indexOf(Math.min(...values));
  return { params: simplex[bestIndex]!, value: values[bestIndex]! };
}
