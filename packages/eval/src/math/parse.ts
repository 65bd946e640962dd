/**
 * A small LaTeX-answer parser: normalised answer text → expression tree. It covers what final answers in
 * math benchmarks contain (numbers, fractions, radicals, powers, π, e, i, functions, factorials,
 * binomials, absolute values, floor/ceiling, ±, implicit multiplication) and fails (returns null) on
 * anything else, so the caller falls back to string comparison instead of guessing.
 */

export type Node =
  | {
      kind: 'number';
      value: number /** Digits of an integer literal, for exact comparison. */;
      integer?: string;
    }
  | { kind: 'symbol'; name: string }
  | { kind: 'constant'; name: 'pi' | 'e' | 'i' | 'infinity' }
  | { kind: 'binary'; op: '+' | '-' | '*' | '/' | '^'; left: Node; right: Node }
  | { kind: 'negate'; argument: Node }
  | { kind: 'call'; name: string; args: Node[] }
  /** `left ± right` (left absent for a leading ±); `sign` -1 for ∓. Expanded into two answers. */
  | { kind: 'plusminus'; left: Node | null; right: Node; sign: 1 | -1 };

type Token =
  | { type: 'number'; text: string }
  | { type: 'letter'; text: string }
  | { type: 'command'; text: string }
  | { type: 'op'; text: string }
  | { type: 'end'; text: '' };

/** Limits that keep pathological answers cheap: nothing here loops over user-controlled magnitudes. */
const MAX_INPUT_LENGTH = 2000;
const MAX_DEPTH = 64;

const FUNCTIONS = new Set([
  'sin',
  'cos',
  'tan',
  'cot',
  'sec',
  'csc',
  'arcsin',
  'arccos',
  'arctan',
  'arccot',
  'sinh',
  'cosh',
  'tanh',
  'ln',
  'log',
  'lg',
  'exp',
]);

const INVERSE: Record<string, string> = { sin: 'arcsin', cos: 'arccos', tan: 'arctan', cot: 'arccot' };

const GREEK = new Set([
  'alpha',
  'beta',
  'gamma',
  'delta',
  'epsilon',
  'varepsilon',
  'zeta',
  'eta',
  'theta',
  'vartheta',
  'iota',
  'kappa',
  'lambda',
  'mu',
  'nu',
  'xi',
  'rho',
  'sigma',
  'tau',
  'upsilon',
  'phi',
  'varphi',
  'chi',
  'psi',
  'omega',
  'Gamma',
  'Delta',
  'Theta',
  'Lambda',
  'Xi',
  'Sigma',
  'Phi',
  'Psi',
  'Omega',
]);

/** Commands that are spacing or decoration only. */
const IGNORED_COMMANDS = new Set([
  'displaystyle',
  'textstyle',
  'left',
  'right',
  'bigl',
  'bigr',
  'Bigl',
  'Bigr',
  'big',
  'Big',
  'bigg',
  'Bigg',
  'quad',
  'qquad',
  'limits',
  'nolimits',
]);

function tokenize(source: string): Token[] | null {
  const tokens: Token[] = [];
  let index = 0;
  const length = source.length;
  while (index < length) {
    const char = source[index]!;
    const code = source.charCodeAt(index);
    if (char === ' ' || char === '\t' || char === '\n' || char === '\r' || char === '~') {
      index++;
      continue;
    }
    if ((code >= 48 && code <= 57) || (char === '.' && /[0-9]/.test(source[index + 1] ?? ''))) {
      let end = index;
      while (end < length && /[0-9]/.test(source[end]!)) end++;
      if (source[end] === '.' && /[0-9]/.test(source[end + 1] ?? '')) {
        end++;
        while (end < length && /[0-9]/.test(source[end]!)) end++;
      } else if (source[end] === '.' && !/[0-9a-zA-Z\\]/.test(source[end + 1] ?? '')) {
        end++; // "5." written as a number
      }
      // Scientific notation written as plain text: 1.5e-3, 2E10.
      const exponent = /^[eE][+-]?[0-9]+(?![0-9a-zA-Z])/.exec(source.slice(end, end + 12));
      if (exponent) end += exponent[0].length;
      tokens.push({ type: 'number', text: source.slice(index, end) });
      index = end;
      continue;
    }
    if ((code >= 65 && code <= 90) || (code >= 97 && code <= 122)) {
      tokens.push({ type: 'letter', text: char });
      index++;
      continue;
    }
    if (char === '\\') {
      const next = source[index + 1];
      if (next === undefined) return null;
      if (/[a-zA-Z]/.test(next)) {
        let end = index + 1;
        while (end < length && /[a-zA-Z]/.test(source[end]!)) end++;
        const name = source.slice(index + 1, end);
        index = end;
        if (IGNORED_COMMANDS.has(name)) continue;
        tokens.push({ type: 'command', text: name });
        continue;
      }
      index += 2;
      if (next === '{' || next === '}') tokens.push({ type: 'op', text: next });
      else if (next === '|') tokens.push({ type: 'op', text: '|' });
      else if (next === '%') tokens.push({ type: 'op', text: '%' });
      else if (next === '\\') tokens.push({ type: 'op', text: '\\\\' });
      else if (next === ',' || next === ';' || next === ':' || next === '!' || next === ' ' || next === '$') {
        // spacing
      } else return null;
      continue;
    }
    tokens.push({ type: 'op', text: char });
    index++;
  }
  tokens.push({ type: 'end', text: '' });
  return tokens;
}

/** Thrown to unwind a failed parse; one shared instance, so failing costs no stack trace. */
class ParseFailure {}
const PARSE_FAILURE = new ParseFailure();

const fail = (): never => {
  throw PARSE_FAILURE;
};

class Parser {
  private position = 0;
  private depth = 0;
  private absDepth = 0;

  constructor(private readonly tokens: Token[]) {}

  parseAll(): Node {
    const node = this.parseExpression();
    if (this.peek().type !== 'end') fail();
    return node;
  }

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.position + offset, this.tokens.length - 1)]!;
  }

  private next(): Token {
    const token = this.peek();
    if (this.position < this.tokens.length - 1) this.position++;
    return token;
  }

  private isOp(text: string, offset = 0): boolean {
    const token = this.peek(offset);
    return token.type === 'op' && token.text === text;
  }

  private isCommand(text: string): boolean {
    const token = this.peek();
    return token.type === 'command' && token.text === text;
  }

  private expectOp(text: string): void {
    if (!this.isOp(text)) fail();
    this.next();
  }

  private enter(): void {
    if (++this.depth > MAX_DEPTH) fail();
  }

  private parseExpression(): Node {
    this.enter();
    let left: Node | null = null;
    if (this.isCommand('pm') || this.isCommand('mp')) {
      const sign = this.next().text === 'pm' ? 1 : -1;
      left = { kind: 'plusminus', left: null, right: this.parseTerm(), sign };
    } else {
      left = this.parseTerm();
    }
    for (;;) {
      if (this.isOp('+') || this.isOp('-')) {
        const op = this.next().text as '+' | '-';
        left = { kind: 'binary', op, left, right: this.parseTerm() };
      } else if (this.isCommand('pm') || this.isCommand('mp')) {
        const sign = this.next().text === 'pm' ? 1 : -1;
        left = { kind: 'plusminus', left, right: this.parseTerm(), sign };
      } else break;
    }
    this.depth--;
    return left;
  }

  private parseTerm(): Node {
    let left = this.parseSigned();
    for (;;) {
      const token = this.peek();
      if (
        (token.type === 'op' && (token.text === '*' || token.text === '/')) ||
        (token.type === 'command' &&
          (token.text === 'cdot' || token.text === 'times' || token.text === 'div'))
      ) {
        this.next();
        const op = token.text === '/' || token.text === 'div' ? '/' : '*';
        left = { kind: 'binary', op, left, right: this.parseSigned() };
      } else if (this.startsPrimary(token)) {
        const right = this.parsePower();
        left = mixedNumber(left, right) ?? { kind: 'binary', op: '*', left, right };
      } else break;
    }
    return left;
  }

  private parseSigned(): Node {
    if (this.isOp('-')) {
      this.next();
      return { kind: 'negate', argument: this.parseSigned() };
    }
    if (this.isOp('+')) {
      this.next();
      return this.parseSigned();
    }
    return this.parsePower();
  }

  private parsePower(): Node {
    const base = this.parsePostfix();
    if (this.isOp('^')) {
      this.next();
      const exponent = this.parseScript();
      let node: Node = { kind: 'binary', op: '^', left: base, right: exponent };
      while (this.isOp('!')) {
        this.next();
        node = { kind: 'call', name: 'factorial', args: [node] };
      }
      return node;
    }
    return base;
  }

  /** The argument of `^`: a braced group, or one (signed) atom. `2^10` reads as 2^{10}, as sympy's parser does. */
  private parseScript(): Node {
    this.enter();
    let node: Node;
    if (this.isOp('{')) {
      this.next();
      node = this.parseExpression();
      this.expectOp('}');
    } else if (this.isOp('-')) {
      this.next();
      node = { kind: 'negate', argument: this.parsePostfix() };
    } else if (this.isOp('+')) {
      this.next();
      node = this.parsePostfix();
    } else {
      node = this.parsePrimary();
    }
    this.depth--;
    return node;
  }

  private parsePostfix(): Node {
    let node = this.parsePrimary();
    for (;;) {
      if (this.isOp('!')) {
        this.next();
        node = { kind: 'call', name: 'factorial', args: [node] };
      } else if (this.isOp("'")) {
        this.next();
      } else break;
    }
    return node;
  }

  private startsPrimary(token: Token): boolean {
    if (token.type === 'number' || token.type === 'letter') return true;
    if (token.type === 'op') {
      if (token.text === '(' || token.text === '{') return true;
      if (token.text === '|') return this.absDepth === 0;
      return false;
    }
    if (token.type === 'command') {
      const name = token.text;
      return (
        name === 'frac' ||
        name === 'sqrt' ||
        name === 'binom' ||
        name === 'pi' ||
        name === 'infty' ||
        name === 'lfloor' ||
        name === 'lceil' ||
        name === 'exp' ||
        FUNCTIONS.has(name) ||
        GREEK.has(name) ||
        ((name === 'lvert' || name === 'vert') && this.absDepth === 0)
      );
    }
    return false;
  }

  /** A LaTeX macro argument: `{…}` or a single token (one digit of a number: `\frac12` = 1/2). */
  private parseMacroArgument(): Node {
    const token = this.peek();
    if (token.type === 'op' && token.text === '{') {
      this.next();
      const node = this.parseExpression();
      this.expectOp('}');
      return node;
    }
    if (token.type === 'number') {
      if (token.text.length > 1 && /^[0-9]/.test(token.text)) {
        // Split "12" into "1" and a remaining "2".
        const first = token.text[0]!;
        this.tokens[this.position] = { type: 'number', text: token.text.slice(1) };
        return numberNode(first);
      }
      this.next();
      return numberNode(token.text);
    }
    if (token.type === 'letter') {
      this.next();
      return letterNode(token.text);
    }
    if (token.type === 'command') return this.parsePrimary();
    return fail();
  }

  /** Text of a subscript: `_1`, `_{n+1}`, `_x`. */
  private parseSubscriptText(): string {
    const token = this.next();
    if (token.type === 'op' && token.text === '{') {
      let depth = 1;
      let text = '';
      for (;;) {
        const inner = this.next();
        if (inner.type === 'end') fail();
        if (inner.type === 'op' && inner.text === '{') depth++;
        if (inner.type === 'op' && inner.text === '}' && --depth === 0) break;
        text += inner.type === 'command' ? `\\${inner.text}` : inner.text;
      }
      return text;
    }
    if (token.type === 'number' || token.type === 'letter') return token.text;
    if (token.type === 'command') return `\\${token.text}`;
    return fail();
  }

  private parsePrimary(): Node {
    this.enter();
    const node = this.parsePrimaryInner();
    this.depth--;
    return node;
  }

  private parsePrimaryInner(): Node {
    const token = this.next();
    switch (token.type) {
      case 'number': {
        const node = numberNode(token.text);
        if (this.isOp('_')) {
          // A base subscript (1011_2): the digits are the answer as written.
          this.next();
          this.parseSubscriptText();
        }
        return node;
      }
      case 'letter': {
        let name = token.text;
        if (this.isOp('_')) {
          this.next();
          name = `${name}_${this.parseSubscriptText()}`;
          return { kind: 'symbol', name };
        }
        return letterNode(name);
      }
      case 'op':
        return this.parseGroup(token.text);
      case 'command':
        return this.parseCommand(token.text);
      default:
        return fail();
    }
  }

  private parseGroup(open: string): Node {
    if (open === '(' || open === '[') {
      const node = this.parseExpression();
      const close = this.next();
      if (close.type !== 'op' || close.text !== (open === '(' ? ')' : ']')) fail();
      return node;
    }
    if (open === '{') {
      const node = this.parseExpression();
      this.expectOp('}');
      return node;
    }
    if (open === '|') return this.parseAbs('|');
    return fail();
  }

  private parseAbs(close: string): Node {
    this.absDepth++;
    const node = this.parseExpression();
    this.absDepth--;
    const token = this.next();
    const closes =
      (token.type === 'op' && token.text === '|' && close === '|') ||
      (token.type === 'command' && (token.text === close || (close === 'rvert' && token.text === 'vert')));
    if (!closes) fail();
    return { kind: 'call', name: 'abs', args: [node] };
  }

  private parseCommand(name: string): Node {
    switch (name) {
      case 'frac': {
        const numerator = this.parseMacroArgument();
        const denominator = this.parseMacroArgument();
        return { kind: 'binary', op: '/', left: numerator, right: denominator };
      }
      case 'binom': {
        const n = this.parseMacroArgument();
        const k = this.parseMacroArgument();
        return { kind: 'call', name: 'binom', args: [n, k] };
      }
      case 'sqrt': {
        if (this.isOp('[')) {
          this.next();
          const index = this.parseExpression();
          this.expectOp(']');
          return { kind: 'call', name: 'root', args: [this.parseMacroArgument(), index] };
        }
        return { kind: 'call', name: 'sqrt', args: [this.parseMacroArgument()] };
      }
      case 'pi':
        return { kind: 'constant', name: 'pi' };
      case 'infty':
        return { kind: 'constant', name: 'infinity' };
      case 'lfloor': {
        const node = this.parseExpression();
        if (!this.isCommand('rfloor')) fail();
        this.next();
        return { kind: 'call', name: 'floor', args: [node] };
      }
      case 'lceil': {
        const node = this.parseExpression();
        if (!this.isCommand('rceil')) fail();
        this.next();
        return { kind: 'call', name: 'ceil', args: [node] };
      }
      case 'lvert':
        return this.parseAbs('rvert');
      case 'vert':
        return this.parseAbs('vert');
      default:
        if (GREEK.has(name)) return { kind: 'symbol', name };
        if (FUNCTIONS.has(name)) return this.parseFunction(name);
        return fail();
    }
  }

  /** `\sin x`, `\sin^2(x)`, `\sin^{-1} x`, `\log_2 8`, `\ln{x}`. */
  private parseFunction(name: string): Node {
    let power: Node | null = null;
    let base: Node | null = null;
    let functionName = name;
    for (let round = 0; round < 2; round++) {
      if (this.isOp('^')) {
        this.next();
        power = this.parseScript();
      } else if (this.isOp('_')) {
        this.next();
        base = this.parseScript();
      }
    }
    if (power && isMinusOne(power) && INVERSE[name]) {
      functionName = INVERSE[name]!;
      power = null;
    }
    let argument: Node;
    if (this.isOp('(')) {
      this.next();
      argument = this.parseExpression();
      this.expectOp(')');
    } else if (this.isOp('{')) {
      this.next();
      argument = this.parseExpression();
      this.expectOp('}');
    } else {
      // Unparenthesised operand: a run of implicitly multiplied atoms, stopping at the next function.
      argument = this.parsePower();
      for (;;) {
        const token = this.peek();
        if (token.type === 'command' && (FUNCTIONS.has(token.text) || token.text === 'frac')) break;
        if (!this.startsPrimary(token)) break;
        argument = { kind: 'binary', op: '*', left: argument, right: this.parsePower() };
      }
    }
    let node: Node;
    if (functionName === 'log' && base) node = { kind: 'call', name: 'logb', args: [argument, base] };
    else if (functionName === 'lg') node = { kind: 'call', name: 'logb', args: [argument, numberNode('10')] };
    else node = { kind: 'call', name: functionName, args: [argument] };
    if (power) node = { kind: 'binary', op: '^', left: node, right: power };
    return node;
  }
}

/** `2\frac{1}{2}` is the mixed number 2½ (integer literal, then a fraction of integer literals). */
function mixedNumber(left: Node, right: Node): Node | null {
  const isInteger = (node: Node) => node.kind === 'number' && node.integer !== undefined;
  if (right.kind !== 'binary' || right.op !== '/' || !isInteger(right.left) || !isInteger(right.right))
    return null;
  if (isInteger(left)) return { kind: 'binary', op: '+', left, right };
  if (left.kind === 'negate' && isInteger(left.argument))
    return { kind: 'negate', argument: { kind: 'binary', op: '+', left: left.argument, right } };
  return null;
}

function isMinusOne(node: Node): boolean {
  return node.kind === 'negate' && node.argument.kind === 'number' && node.argument.value === 1;
}

function numberNode(text: string): Node {
  const value = Number(text.endsWith('.') ? text.slice(0, -1) : text);
  if (/^[0-9]+$/.test(text)) return { kind: 'number', value, integer: text.replace(/^0+(?=[0-9])/, '') };
  return { kind: 'number', value };
}

function letterNode(letter: string): Node {
  if (letter === 'e') return { kind: 'constant', name: 'e' };
  if (letter === 'i') return { kind: 'constant', name: 'i' };
  return { kind: 'symbol', name: letter };
}

/**
 * Parses one normalised answer expression. Returns null when the text is not a single expression this
 * parser understands (relations, lists and intervals are split off before this is called).
 */
export function parseExpression(source: string): Node | null {
  if (source.length === 0 || source.length > MAX_INPUT_LENGTH) return null;
  const tokens = tokenize(source);
  if (!tokens) return null;
  try {
    return new Parser(tokens).parseAll();
  } catch (error) {
    if (error instanceof ParseFailure) return null;
    throw error;
  }
}

/** Free symbols of an expression (constants π, e, i excluded). */
export function freeSymbols(node: Node, into: Set<string> = new Set()): Set<string> {
  switch (node.kind) {
    case 'symbol':
      into.add(node.name);
      break;
    case 'binary':
      freeSymbols(node.left, into);
      freeSymbols(node.right, into);
      break;
    case 'negate':
      freeSymbols(node.argument, into);
      break;
    case 'call':
      for (const argument of node.args) freeSymbols(argument, into);
      break;
    case 'plusminus':
      if (node.left) freeSymbols(node.left, into);
      freeSymbols(node.right, into);
      break;
    default:
      break;
  }
  return into;
}

/** Replaces each ± with + and − in turn: `1 ± √2` → [1 + √2, 1 − √2]. At most 8 variants. */
export function expandPlusMinus(node: Node): Node[] {
  if (!containsPlusMinus(node)) return [node];
  const variants: Node[] = [];
  const build = (current: Node, choice: number, counter: { index: number }): Node => {
    switch (current.kind) {
      case 'plusminus': {
        const bit = (choice >> counter.index++) & 1;
        const right = build(current.right, choice, counter);
        const sign = bit === 0 ? current.sign : -current.sign;
        if (!current.left) return sign > 0 ? right : { kind: 'negate', argument: right };
        const left = build(current.left, choice, counter);
        return { kind: 'binary', op: sign > 0 ? '+' : '-', left, right };
      }
      case 'binary':
        return {
          ...current,
          left: build(current.left, choice, counter),
          right: build(current.right, choice, counter),
        };
      case 'negate':
        return { kind: 'negate', argument: build(current.argument, choice, counter) };
      case 'call':
        return { ...current, args: current.args.map((argument) => build(argument, choice, counter)) };
      default:
        return current;
    }
  };
  const count = countPlusMinus(node);
  if (count > 3) return [node];
  for (let choice = 0; choice < 1 << count; choice++) variants.push(build(node, choice, { index: 0 }));
  return variants;
}

function containsPlusMinus(node: Node): boolean {
  return countPlusMinus(node) > 0;
}

function countPlusMinus(node: Node): number {
  switch (node.kind) {
    case 'plusminus':
      return 1 + (node.left ? countPlusMinus(node.left) : 0) + countPlusMinus(node.right);
    case 'binary':
      return countPlusMinus(node.left) + countPlusMinus(node.right);
    case 'negate':
      return countPlusMinus(node.argument);
    case 'call':
      return node.args.reduce((sum, argument) => sum + countPlusMinus(argument), 0);
    default:
      return 0;
  }
}
