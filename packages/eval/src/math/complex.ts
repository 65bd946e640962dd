/**
 * Minimal complex arithmetic for evaluating answer expressions. Principal branches throughout, as sympy
 * uses, so `(-8)^{1/3}` is the same complex number on both sides of a comparison.
 */
export interface Complex {
  readonly re: number;
  readonly im: number;
}

export const complex = (re: number, im = 0): Complex => ({ re, im });

export const NAN: Complex = complex(Number.NaN, Number.NaN);

export function isFiniteComplex(value: Complex): boolean {
  return Number.isFinite(value.re) && Number.isFinite(value.im);
}

export function isReal(value: Complex): boolean {
  return value.im === 0 || Math.abs(value.im) <= 1e-12 * Math.max(1, Math.abs(value.re));
}

export function add(a: Complex, b: Complex): Complex {
  return complex(a.re + b.re, a.im + b.im);
}

export function sub(a: Complex, b: Complex): Complex {
  return complex(a.re - b.re, a.im - b.im);
}

export function mul(a: Complex, b: Complex): Complex {
  if (a.im === 0 && b.im === 0) return complex(a.re * b.re);
  return complex(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re);
}

export function div(a: Complex, b: Complex): Complex {
  if (a.im === 0 && b.im === 0) return b.re === 0 ? NAN : complex(a.re / b.re);
  const denominator = b.re * b.re + b.im * b.im;
  if (denominator === 0) return NAN;
  return complex((a.re * b.re + a.im * b.im) / denominator, (a.im * b.re - a.re * b.im) / denominator);
}

export function neg(a: Complex): Complex {
  return complex(-a.re, -a.im);
}

export function modulus(a: Complex): number {
  return Math.hypot(a.re, a.im);
}

export function exp(a: Complex): Complex {
  const scale = Math.exp(a.re);
  if (a.im === 0) return complex(scale);
  return complex(scale * Math.cos(a.im), scale * Math.sin(a.im));
}

export function log(a: Complex): Complex {
  if (a.im === 0 && a.re > 0) return complex(Math.log(a.re));
  if (a.re === 0 && a.im === 0) return complex(Number.NEGATIVE_INFINITY);
  return complex(Math.log(modulus(a)), Math.atan2(a.im, a.re));
}

export function sqrt(a: Complex): Complex {
  if (a.im === 0) return a.re >= 0 ? complex(Math.sqrt(a.re)) : complex(0, Math.sqrt(-a.re));
  const r = modulus(a);
  const re = Math.sqrt((r + a.re) / 2);
  const im = Math.sign(a.im) * Math.sqrt((r - a.re) / 2);
  return complex(re, im);
}

export function pow(base: Complex, exponent: Complex): Complex {
  if (base.im === 0 && exponent.im === 0) {
    const b = base.re;
    const e = exponent.re;
    if (b >= 0 || Number.isInteger(e)) return complex(b ** e);
    // Negative real base, fractional exponent: principal value.
  }
  if (base.re === 0 && base.im === 0) {
    if (exponent.re > 0) return complex(0);
    return NAN;
  }
  if (exponent.im === 0 && Number.isInteger(exponent.re) && Math.abs(exponent.re) <= 64) {
    // Repeated squaring keeps i^2 = -1 exact.
    let result = complex(1);
    let factor = base;
    let remaining = Math.abs(exponent.re);
    while (remaining > 0) {
      if (remaining & 1) result = mul(result, factor);
      factor = mul(factor, factor);
      remaining >>= 1;
    }
    return exponent.re < 0 ? div(complex(1), result) : result;
  }
  return exp(mul(exponent, log(base)));
}

/** Real-only function lifted to complex: NaN for a non-real argument. */
export function realOnly(f: (x: number) => number): (a: Complex) => Complex {
  return (a) => (isReal(a) ? complex(f(a.re)) : NAN);
}

export function sin(a: Complex): Complex {
  if (a.im === 0) return complex(Math.sin(a.re));
  return complex(Math.sin(a.re) * Math.cosh(a.im), Math.cos(a.re) * Math.sinh(a.im));
}

export function cos(a: Complex): Complex {
  if (a.im === 0) return complex(Math.cos(a.re));
  return complex(Math.cos(a.re) * Math.cosh(a.im), -Math.sin(a.re) * Math.sinh(a.im));
}

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** Γ(x) for real x (Lanczos approximation, reflection below 1/2). */
export function gamma(x: number): number {
  if (Number.isInteger(x) && x <= 0) return Number.NaN;
  if (x > 171.7) return Number.POSITIVE_INFINITY;
  if (x < 0.5) return Math.PI / (Math.sin(Math.PI * x) * gamma(1 - x));
  const shifted = x - 1;
  let sum = LANCZOS[0]!;
  const g = 7;
  for (let index = 1; index < g + 2; index++) sum += LANCZOS[index]! / (shifted + index);
  const t = shifted + g + 0.5;
  return Math.sqrt(2 * Math.PI) * t ** (shifted + 0.5) * Math.exp(-t) * sum;
}

/** n! for real n: exact product for small integers, Γ(n+1) otherwise; capped (no loops over huge n). */
export function factorial(n: number): number {
  if (Number.isInteger(n)) {
    if (n < 0) return Number.NaN;
    if (n > 170) return Number.POSITIVE_INFINITY;
    let product = 1;
    for (let k = 2; k <= n; k++) product *= k;
    return product;
  }
  return gamma(n + 1);
}

/** Binomial coefficient for real arguments (exact for small non-negative integers). */
export function binomial(n: number, k: number): number {
  if (Number.isInteger(n) && Number.isInteger(k)) {
    if (k < 0 || (n >= 0 && k > n)) return 0;
    if (n >= 0 && n <= 1000) {
      const kk = Math.min(k, n - k);
      let result = 1;
      for (let index = 1; index <= kk; index++) result = (result * (n - kk + index)) / index;
      return Math.round(result);
    }
  }
  return gamma(n + 1) / (gamma(k + 1) * gamma(n - k + 1));
}
