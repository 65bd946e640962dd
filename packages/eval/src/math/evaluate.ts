import {
  type Complex,
  NAN,
  add,
  binomial,
  complex,
  cos,
  div,
  exp,
  factorial,
  isReal,
  log,
  modulus,
  mul,
  neg,
  pow,
  realOnly,
  sin,
  sqrt,
  sub,
} from './complex.js';
import type { Node } from './parse.js';

const ONE = complex(1);
const I = complex(0, 1);

const REAL_FUNCTIONS: Record<string, (a: Complex) => Complex> = {
  arcsin: realOnly(Math.asin),
  arccos: realOnly(Math.acos),
  arctan: realOnly(Math.atan),
  arccot: realOnly((x) => Math.PI / 2 - Math.atan(x)),
  sinh: realOnly(Math.sinh),
  cosh: realOnly(Math.cosh),
  tanh: realOnly(Math.tanh),
  floor: realOnly(Math.floor),
  ceil: realOnly(Math.ceil),
  factorial: realOnly(factorial),
};

/** Evaluates an expression tree with the given symbol values; NaN components when undefined. */
export function evaluate(node: Node, values: ReadonlyMap<string, number>): Complex {
  switch (node.kind) {
    case 'number':
      return complex(node.value);
    case 'symbol': {
      const value = values.get(node.name);
      return value === undefined ? NAN : complex(value);
    }
    case 'constant':
      switch (node.name) {
        case 'pi':
          return complex(Math.PI);
        case 'e':
          return complex(Math.E);
        case 'i':
          return I;
        default:
          return complex(Number.POSITIVE_INFINITY);
      }
    case 'negate':
      return neg(evaluate(node.argument, values));
    case 'plusminus': {
      // Callers expand ± first; evaluating the + branch keeps this total.
      const right = evaluate(node.right, values);
      const signed = node.sign > 0 ? right : neg(right);
      return node.left ? add(evaluate(node.left, values), signed) : signed;
    }
    case 'binary': {
      const left = evaluate(node.left, values);
      const right = evaluate(node.right, values);
      switch (node.op) {
        case '+':
          return add(left, right);
        case '-':
          return sub(left, right);
        case '*':
          return mul(left, right);
        case '/':
          return div(left, right);
        default:
          return pow(left, right);
      }
    }
    case 'call':
      return evaluateCall(node.name, node.args, values);
  }
}

function evaluateCall(name: string, args: Node[], values: ReadonlyMap<string, number>): Complex {
  const first = args[0] ? evaluate(args[0], values) : NAN;
  switch (name) {
    case 'sqrt':
      return sqrt(first);
    case 'root': {
      const index = args[1] ? evaluate(args[1], values) : NAN;
      // Odd roots of negative constants are real (∛-8 = -2), as written answers mean. With variables the
      // principal branch keeps ∛x² and x^{2/3} identical, as sympy has them.
      if (
        values.size === 0 &&
        isReal(first) &&
        isReal(index) &&
        first.re < 0 &&
        Number.isInteger(index.re) &&
        index.re % 2 !== 0
      )
        return complex(-((-first.re) ** (1 / index.re)));
      return pow(first, div(ONE, index));
    }
    case 'sin':
      return sin(first);
    case 'cos':
      return cos(first);
    case 'tan':
      return div(sin(first), cos(first));
    case 'cot':
      return div(cos(first), sin(first));
    case 'sec':
      return div(ONE, cos(first));
    case 'csc':
      return div(ONE, sin(first));
    case 'ln':
    case 'log':
      return log(first);
    case 'logb': {
      const base = args[1] ? evaluate(args[1], values) : NAN;
      return div(log(first), log(base));
    }
    case 'exp':
      return exp(first);
    case 'abs':
      return complex(modulus(first));
    case 'binom': {
      const k = args[1] ? evaluate(args[1], values) : NAN;
      if (!isReal(first) || !isReal(k)) return NAN;
      return complex(binomial(first.re, k.re));
    }
    default: {
      const f = REAL_FUNCTIONS[name];
      return f ? f(first) : NAN;
    }
  }
}
