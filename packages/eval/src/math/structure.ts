/**
 * The shape of a normalised answer: a single expression, a list (set, tuple, bare comma list), an
 * interval or union of intervals, a matrix, a relation (`x = 3`, `y = 2x + 1`, `x > 2`) or plain text.
 */
import { compactKey } from './normalize.js';
import { evaluate } from './evaluate.js';
import { type Node, expandPlusMinus, freeSymbols, parseExpression } from './parse.js';

export type Answer =
  | { type: 'expression'; node: Node; key: string }
  | {
      type: 'list';
      items: Answer[];
      /** `set`: `{…}`, unordered. `bare`: `a, b`, unordered. `bracketed`: `(…)`/`[…]`, ordered. */
      form: 'set' | 'bare' | 'bracketed';
      open: string;
      close: string;
      key: string;
    }
  | { type: 'union'; parts: Answer[]; key: string }
  | { type: 'matrix'; rows: Answer[][]; key: string }
  /** `sides[0] ops[0] sides[1] …`; `assignment` when the left side is a lone variable (`x = 3`, `f(x) = 2x`). */
  | { type: 'relation'; sides: Answer[]; ops: string[]; assignment: boolean; key: string }
  | { type: 'text'; key: string };

const MAX_ITEMS = 64;

const RELATION =
  /^(?:=|<|>|\\le(?![a-zA-Z])|\\ge(?![a-zA-Z])|\\lt(?![a-zA-Z])|\\gt(?![a-zA-Z])|\\ne(?![a-zA-Z])|\\approx(?![a-zA-Z])|\\equiv(?![a-zA-Z]))/;

/** Splits at a separator found at bracket depth 0. `separator` is tried at every position. */
export function splitTopLevel(text: string, separator: RegExp): { parts: string[]; separators: string[] } {
  const parts: string[] = [];
  const separators: string[] = [];
  let depth = 0;
  let start = 0;
  for (let index = 0; index < text.length; index++) {
    const char = text[index]!;
    if (char === '\\') {
      const command = /^\\(?:[a-zA-Z]+|.)/.exec(text.slice(index, index + 20))?.[0] ?? '\\';
      if (command === '\\{' || command === '\\langle') depth++;
      else if (command === '\\}' || command === '\\rangle') depth--;
      else if (command === '\\begin') depth++;
      else if (command === '\\end') depth--;
      else if (depth === 0) {
        const match = separator.exec(text.slice(index));
        if (match) {
          parts.push(text.slice(start, index));
          separators.push(match[0]);
          index += match[0].length - 1;
          start = index + 1;
          continue;
        }
      }
      index += command.length - 1;
      continue;
    }
    if (char === '(' || char === '[' || char === '{') depth++;
    else if (char === ')' || char === ']' || char === '}') depth--;
    else if (depth === 0) {
      const match = separator.exec(text.slice(index));
      if (match) {
        parts.push(text.slice(start, index));
        separators.push(match[0]);
        index += match[0].length - 1;
        start = index + 1;
      }
    }
  }
  parts.push(text.slice(start));
  return { parts, separators };
}

/** When the whole text is one bracketed group, its brackets and inside. `\{…\}` counts as `{…}`. */
function wrappedGroup(text: string): { open: string; close: string; inner: string } | null {
  let open: string;
  let innerStart: number;
  if (text.startsWith('\\{')) {
    open = '{';
    innerStart = 2;
  } else if (text.startsWith('\\langle')) {
    open = '(';
    innerStart = 7;
  } else if (text[0] === '(' || text[0] === '[' || text[0] === '{') {
    open = text[0];
    innerStart = 1;
  } else return null;
  let depth = 1;
  for (let index = innerStart; index < text.length; index++) {
    const char = text[index]!;
    if (char === '\\') {
      const command = /^\\(?:[a-zA-Z]+|.)/.exec(text.slice(index, index + 20))?.[0] ?? '\\';
      if (command === '\\{' || command === '\\langle') depth++;
      else if (command === '\\}' || command === '\\rangle') {
        depth--;
        if (depth === 0) {
          const end = index + command.length;
          if (end !== text.length) return null;
          return { open, close: command === '\\}' ? '}' : ')', inner: text.slice(innerStart, index) };
        }
      }
      index += command.length - 1;
      continue;
    }
    if (char === '(' || char === '[' || char === '{') depth++;
    else if (char === ')' || char === ']' || char === '}') {
      depth--;
      if (depth === 0) {
        if (index !== text.length - 1) return null;
        return { open, close: char, inner: text.slice(innerStart, index) };
      }
    }
  }
  return null;
}

const SIMPLE_LEFT_SIDE =
  /^(?:[a-zA-Z](?:_\{?[a-zA-Z0-9,]+\}?)?'*|\\[a-zA-Z]+(?:_\{?[a-zA-Z0-9]+\}?)?|[a-zA-Z]{2}|[a-zA-Z](?:_\{?[a-zA-Z0-9]+\}?)?(?:\^\{?-1\}?)?\([a-zA-Z, ]*\)|[a-zA-Z]_\{?\\(?:max|min)\s*\}?|\\angle[a-zA-Z0-9_{}]+)$/;

/** Parses a normalised answer into its shape. Never throws; unknown shapes become `text`. */
export function parseAnswer(text: string, depth = 0): Answer {
  const trimmed = text.trim();
  const key = compactKey(trimmed);
  if (trimmed.length === 0 || depth > 6) return { type: 'text', key };

  // The whole real line and the empty set.
  if (key === '\\mathbb{R}' || key === '(-\\infty,\\infty)' || key === '(-\\infty,+\\infty)')
    return interval('(', ')', '-\\infty', '\\infty', key);
  if (key === '\\emptyset' || key === '{}' || key === '\\{\\}')
    return { type: 'list', items: [], form: 'set', open: '{', close: '}', key };

  // x ∈ S → S
  const membership = /^([a-zA-Z](?:_\{?[a-zA-Z0-9]+\}?)?)\s*\\in(?![a-zA-Z])\s*(.+)$/.exec(trimmed);
  if (membership) return parseAnswer(membership[2]!, depth + 1);

  const matrix = parseMatrix(trimmed, depth) ?? matrixCombination(trimmed, key, depth);
  if (matrix) return matrix;

  // ℝ minus points: \mathbb{R} \setminus \{0\} = (-∞, 0) ∪ (0, ∞).
  const minus = /^\\mathbb\{R\}\s*(?:\\setminus|\\backslash|-)\s*(.+)$/.exec(trimmed);
  if (minus) {
    const removed = parseAnswer(minus[1]!, depth + 1);
    const points = removed.type === 'list' && removed.form !== 'bracketed' ? removed.items : [removed];
    const sorted = points
      .map((point) => ({ point, value: point.type === 'expression' ? numericValue(point.node) : Number.NaN }))
      .sort((a, b) => a.value - b.value);
    if (sorted.length > 0 && sorted.every(({ value }) => Number.isFinite(value))) {
      const edges = ['-\\infty', ...sorted.map(({ point }) => point.key), '\\infty'];
      const parts = edges.slice(1).map((high, index) => interval('(', ')', edges[index]!, high, ''));
      return { type: 'union', parts, key };
    }
  }

  // Unions of intervals or sets; a union of finite sets is one set ({1,3} ∪ {2,4} = {1,2,3,4}).
  const union = splitTopLevel(trimmed, /^\\cup(?![a-zA-Z])|^ U (?=[([])/);
  if (union.parts.length > 1) {
    const parts = union.parts.map((part) => parseAnswer(part, depth + 1));
    // {1} reads as 1, so a part written as a set counts as a set.
    const isSet = (part: Answer, index: number) =>
      (part.type === 'list' && part.form === 'set') || /^\s*\\\{/.test(union.parts[index]!);
    if (parts.every(isSet)) {
      const items = parts.flatMap((part) =>
        part.type === 'list' && part.form === 'set' ? part.items : [part],
      );
      return { type: 'list', items, form: 'set', open: '{', close: '}', key };
    }
    return { type: 'union', parts, key };
  }

  // "1 and 2", "x = 1 or x = 2" are lists.
  const connected = trimmed.replace(/\s+(?:and|or)\s+/g, ', ');

  const group = wrappedGroup(connected);
  // Set-builder notation: \{x \mid x > 0\} → the condition's interval.
  const builder =
    group && group.open === '{' ? /^\s*([a-zA-Z])\s*(?:\\mid|\||:)\s*(.+)$/s.exec(group.inner) : null;
  if (builder) return parseAnswer(builder[2]!, depth + 1);
  if (group) {
    const inner = splitTopLevel(group.inner, /^[,;]/).parts.filter((part) => part.trim().length > 0);
    if (inner.length > MAX_ITEMS) return { type: 'text', key };
    if (group.open === '{' && group.close === '}') {
      // A one-element set reads as its element (Qwen's grader and most models treat {5} as 5).
      if (inner.length === 1) return parseAnswer(inner[0]!, depth + 1);
      return {
        type: 'list',
        items: listItems(inner, depth),
        form: 'set',
        open: '{',
        close: '}',
        key,
      };
    }
    if (inner.length === 1) {
      if (group.open === '(' && group.close === ')') return parseAnswer(inner[0]!, depth + 1);
      // [5] — a one-element list; rarely meant as such.
      if (group.open === '[' && group.close === ']') return parseAnswer(inner[0]!, depth + 1);
      return { type: 'text', key };
    }
    return {
      type: 'list',
      items: inner.map((part) => stripAssignment(parseAnswer(part, depth + 1))),
      form: 'bracketed',
      open: group.open,
      close: group.close,
      key,
    };
  }

  const items = splitTopLevel(connected, /^[,;]/).parts.filter((part) => part.trim().length > 0);
  if (items.length > 1) {
    if (items.length > MAX_ITEMS) return { type: 'text', key };
    return {
      type: 'list',
      items: listItems(items, depth),
      form: 'bare',
      open: '',
      close: '',
      key,
    };
  }

  const relation = parseRelation(trimmed, key, depth);
  if (relation) return relation;

  // A leading ≈ or = ("\approx 3.14").
  const leading = /^(?:=|\\approx(?![a-zA-Z]))\s*(.+)$/.exec(trimmed);
  if (leading) return parseAnswer(leading[1]!, depth + 1);

  const node = parseExpression(trimmed);
  if (node) {
    const variants = expandPlusMinus(node);
    if (variants.length > 1) {
      return {
        type: 'list',
        items: variants.map((variant) => ({ type: 'expression', node: variant, key: '' })),
        form: 'bare',
        open: '',
        close: '',
        key,
      };
    }
    return { type: 'expression', node, key };
  }
  return { type: 'text', key };
}

/** Value of a constant expression (NaN when it has symbols or is not real). */
function numericValue(node: Node): number {
  if (freeSymbols(node).size > 0) return Number.NaN;
  const value = evaluate(node, new Map());
  return value.im === 0 ? value.re : Number.NaN;
}

function interval(open: string, close: string, low: string, high: string, key: string): Answer {
  return {
    type: 'list',
    items: [parseAnswer(low), parseAnswer(high)],
    form: 'bracketed',
    open,
    close,
    key,
  };
}

/** Items of a list: `x = 3` stands for 3, and `±2` inside a list contributes both values. */
function listItems(parts: string[], depth: number): Answer[] {
  const items: Answer[] = [];
  for (const part of parts) {
    const item = stripAssignment(parseAnswer(part, depth + 1));
    if (item.type === 'list' && item.form === 'bare') items.push(...item.items);
    else items.push(item);
  }
  return items;
}

/** In a list, `x = 3` stands for 3. */
function stripAssignment(answer: Answer): Answer {
  if (answer.type === 'relation' && answer.assignment && answer.sides.length === 2) return answer.sides[1]!;
  return answer;
}

function parseRelation(text: string, key: string, depth: number): Answer | null {
  const split = splitTopLevel(text, RELATION);
  if (split.parts.length < 2) return null;
  const sides = split.parts.map((part) => part.trim());
  if (sides.some((side) => side.length === 0)) return null;
  const ops = split.separators.map(canonicalRelation);
  // A chain of equalities (x = 5+5+1 = 11) stands for its last side, as in Math-Verify; so does a
  // computation with constants on the left (2 \times 3 = 6).
  if (ops.length >= 2 && ops.every((op) => op === '='))
    return parseAnswer(sides[sides.length - 1]!, depth + 1);
  if (ops.length === 1 && ops[0] === '=') {
    const constantLeft = /[a-zA-Z]/.test(sides[0]!.replace(/\\(?:frac|sqrt|pi|cdot|times)/g, ''))
      ? null
      : parseExpression(sides[0]!);
    if (constantLeft && freeSymbols(constantLeft).size === 0) {
      const constantRight = parseExpression(sides[1]!);
      if (constantRight && freeSymbols(constantRight).size === 0) return parseAnswer(sides[1]!, depth + 1);
    }
  }
  // x ≠ a: every real but a.
  if (ops.length === 1 && ops[0] === '\\ne') {
    const [name, value] = VARIABLE.test(sides[0]!.replace(/\s+/g, '')) ? sides : [sides[1]!, sides[0]!];
    const node = parseExpression(value!);
    if (VARIABLE.test(name!.replace(/\s+/g, '')) && node && freeSymbols(node).size === 0)
      return {
        type: 'union',
        parts: [interval('(', ')', '-\\infty', value!, ''), interval('(', ')', value!, '\\infty', '')],
        key,
      };
  }
  // Single-variable inequalities become intervals: x > 2, 1 < x \le 3, -x > -1, |x - 1| \le 2.
  const asInterval =
    inequalityToInterval(sides, ops, key) ??
    linearInequalityToInterval(sides, ops, key) ??
    absoluteInequalityToSet(sides, ops, key);
  if (asInterval) return asInterval;
  const left = sides[0]!.replace(/\s+/g, '');
  const assignment =
    ops.length === 1 &&
    ops[0] === '=' &&
    (SIMPLE_LEFT_SIDE.test(left) || LABELLED_TUPLE.test(left) || namedQuantity(sides[0]!, sides[1]!));
  return {
    type: 'relation',
    sides: sides.map((side, index) =>
      index === sides.length - 1 && assignment ? parseAnswer(side, depth + 1) : parseSide(side),
    ),
    ops,
    assignment,
    key,
  };
}

/**
 * `\\lim_{n\\to\\infty} a_n = 1`, `\\angle ABC = 30`: a left side the parser cannot read as an expression,
 * equal to a constant, names the quantity asked for; the answer is the constant.
 */
function namedQuantity(left: string, right: string): boolean {
  if (parseExpression(left) !== null) return false;
  const value = parseExpression(right);
  return value !== null && freeSymbols(value).size === 0;
}

function parseSide(text: string): Answer {
  const node = parseExpression(text);
  return node ? { type: 'expression', node, key: compactKey(text) } : { type: 'text', key: compactKey(text) };
}

function canonicalRelation(op: string): string {
  switch (op) {
    case '\\lt':
      return '<';
    case '\\gt':
      return '>';
    case '\\approx':
    case '\\equiv':
      return '=';
    default:
      return op;
  }
}

const VARIABLE = /^[a-zA-Z](?:_\{?[a-zA-Z0-9]+\}?)?$/;
/** `(p,q) = (3,2)`: a tuple of names on the left labels the tuple on the right. */
const LABELLED_TUPLE = /^\(\s*[a-zA-Z](?:_\{?[a-zA-Z0-9]+\}?)?(?:,[a-zA-Z](?:_\{?[a-zA-Z0-9]+\}?)?)+\)$/;

const FLIP: Record<string, string> = { '<': '>', '>': '<', '\\le': '\\ge', '\\ge': '\\le' };

/** u(x) = a·x + b for one variable x, or null when `node` is not linear in exactly one variable. */
function linearForm(node: Node): { name: string; a: number; b: number } | null {
  const symbols = freeSymbols(node);
  if (symbols.size !== 1) return null;
  const [name] = [...symbols];
  const at = (value: number) => {
    const result = evaluate(node, new Map([[name!, value]]));
    return Math.abs(result.im) < 1e-12 ? result.re : Number.NaN;
  };
  const b = at(0);
  const a = at(1) - b;
  if (!Number.isFinite(a) || !Number.isFinite(b) || Math.abs(a) < 1e-12) return null;
  for (const probe of [-2.5, 3.75])
    if (Math.abs(at(probe) - (a * probe + b)) > 1e-9 * (1 + Math.abs(b))) return null;
  return { name: name!, a, b };
}

function numberText(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(15)));
}

/** `|a·x + b| op r` (or `r op |…|`) with a constant r > 0 → an interval or a union of two rays. */
function absoluteInequalityToSet(sides: string[], ops: string[], key: string): Answer | null {
  if (ops.length !== 1 || !(ops[0]! in FLIP)) return null;
  let left = parseExpression(sides[0]!);
  let right = parseExpression(sides[1]!);
  let op = ops[0]!;
  if (!left || !right) return null;
  if (right.kind === 'call' && right.name === 'abs') {
    [left, right] = [right, left];
    op = FLIP[op]!;
  }
  if (left.kind !== 'call' || left.name !== 'abs' || freeSymbols(right).size > 0) return null;
  const form = linearForm(left.args[0]!);
  const bound = evaluate(right, new Map());
  if (!form || Math.abs(bound.im) > 1e-12 || !(bound.re > 0)) return null;
  const ends = [(-bound.re - form.b) / form.a, (bound.re - form.b) / form.a].sort((x, y) => x - y);
  const low = numberText(ends[0]!);
  const high = numberText(ends[1]!);
  const strict = op === '<' || op === '>';
  if (op === '<' || op === '\\le') return interval(strict ? '(' : '[', strict ? ')' : ']', low, high, key);
  return {
    type: 'union',
    parts: [
      interval('(', strict ? ')' : ']', '-\\infty', low, ''),
      interval(strict ? '(' : '[', ')', high, '\\infty', ''),
    ],
    key,
  };
}

/**
 * `a op b` linear in its one variable (`-x > -1`, `2x + 3 \le 7`) becomes the interval of its solutions,
 * the relation flipped when the variable's coefficient is negative.
 */
function linearInequalityToInterval(sides: string[], ops: string[], key: string): Answer | null {
  if (ops.length !== 1) return null;
  const op = ops[0]!;
  if (op !== '<' && op !== '>' && op !== '\\le' && op !== '\\ge') return null;
  const left = parseExpression(sides[0]!);
  const right = parseExpression(sides[1]!);
  if (!left || !right) return null;
  const symbols = freeSymbols(right, freeSymbols(left));
  if (symbols.size !== 1) return null;
  const [name] = [...symbols];
  const difference: Node = { kind: 'binary', op: '-', left, right };
  const at = (value: number) => {
    const result = evaluate(difference, new Map([[name!, value]]));
    return Math.abs(result.im) < 1e-12 ? result.re : Number.NaN;
  };
  const b = at(0);
  const a = at(1) - b;
  if (!Number.isFinite(a) || !Number.isFinite(b) || Math.abs(a) < 1e-12) return null;
  // Linear: the line through x = 0 and x = 1 must also pass through two more points.
  for (const probe of [-2.5, 3.75])
    if (Math.abs(at(probe) - (a * probe + b)) > 1e-9 * (1 + Math.abs(b))) return null;
  const root = -b / a;
  if (!Number.isFinite(root)) return null;
  const bound = Number.isInteger(root) ? String(root) : String(Number(root.toPrecision(15)));
  // a·x + b op 0 → x op' root, op' flipped when a < 0.
  const flip: Record<string, string> = { '<': '>', '>': '<', '\\le': '\\ge', '\\ge': '\\le' };
  return inequalityToInterval([name!, bound], [a > 0 ? op : flip[op]!], key);
}

function inequalityToInterval(sides: string[], ops: string[], key: string): Answer | null {
  const isOrder = (op: string) => op === '<' || op === '>' || op === '\\le' || op === '\\ge';
  if (!ops.every(isOrder)) return null;
  const compact = sides.map((side) => side.replace(/\s+/g, ''));
  // The bounds must be constants: y > 1 - x is a region, not an interval.
  const constant = (side: string) => {
    const node = parseExpression(side);
    return node !== null && freeSymbols(node).size === 0;
  };
  if (compact.filter((side) => !VARIABLE.test(side)).some((side) => !constant(side))) return null;
  const lower = (op: string) => (op === '<' || op === '\\le' ? 'ascending' : 'descending');
  if (ops.length === 1) {
    const [left, right] = compact as [string, string];
    const op = ops[0]!;
    const strict = op === '<' || op === '>';
    if (VARIABLE.test(left) && !VARIABLE.test(right)) {
      // x < a → (-∞, a); x > a → (a, ∞)
      return lower(op) === 'ascending'
        ? interval('(', strict ? ')' : ']', '-\\infty', right, key)
        : interval(strict ? '(' : '[', ')', right, '\\infty', key);
    }
    if (VARIABLE.test(right) && !VARIABLE.test(left)) {
      // a < x → (a, ∞); a > x → (-∞, a)
      return lower(op) === 'ascending'
        ? interval(strict ? '(' : '[', ')', left, '\\infty', key)
        : interval('(', strict ? ')' : ']', '-\\infty', left, key);
    }
    return null;
  }
  if (ops.length === 2 && VARIABLE.test(compact[1]!) && lower(ops[0]!) === lower(ops[1]!)) {
    const ascending = lower(ops[0]!) === 'ascending';
    const [first, , last] = compact as [string, string, string];
    const lowStrict = (ascending ? ops[0] : ops[1]) === '<' || (ascending ? ops[0] : ops[1]) === '>';
    const highStrict = (ascending ? ops[1] : ops[0]) === '<' || (ascending ? ops[1] : ops[0]) === '>';
    return interval(
      lowStrict ? '(' : '[',
      highStrict ? ')' : ']',
      ascending ? first : last,
      ascending ? last : first,
      key,
    );
  }
  return null;
}

const MATRIX_ENV = /\\begin\{pmatrix\}[\s\S]*?\\end\{pmatrix\}/g;

/**
 * A linear combination of matrices (`2\begin{pmatrix}1\\2\end{pmatrix}`, `A + B`, `-A`) evaluated entry by
 * entry into one matrix; products of matrices and anything non-linear are left alone (null).
 */
function matrixCombination(text: string, key: string, depth: number): Answer | null {
  if (!text.includes('\\begin{pmatrix}') || text.includes('Q_')) return null;
  const matrices: Extract<Answer, { type: 'matrix' }>[] = [];
  const withNames = text.replace(MATRIX_ENV, (env) => {
    const parsed = parseMatrix(env, depth);
    if (parsed?.type !== 'matrix') return env;
    matrices.push(parsed);
    return ` Q_{${matrices.length}} `;
  });
  if (matrices.length === 0 || withNames.includes('\\begin')) return null;
  const node = parseExpression(withNames);
  if (!node) return null;
  const cells = matrices.map((m) =>
    m.rows.map((row) => row.map((cell) => (cell.type === 'expression' ? cell.node : null))),
  );
  if (cells.some((m) => m.some((row) => row.some((cell) => cell === null)))) return null;
  const value = matrixValue(node, cells as Node[][][], { steps: 0 });
  if (value?.kind !== 'matrix') return null;
  const rows: Answer[][] = value.cells.map((row) =>
    row.map((cell): Answer => ({ type: 'expression', node: cell, key: '' })),
  );
  return { type: 'matrix', rows, key };
}

type MatrixValue = { kind: 'scalar'; node: Node } | { kind: 'matrix'; cells: Node[][] };

const bin = (op: '+' | '-' | '*' | '/', left: Node, right: Node): Node => ({
  kind: 'binary',
  op,
  left,
  right,
});

function entrywise(a: Node[][], f: (cell: Node, row: number, column: number) => Node): Node[][] {
  return a.map((row, r) => row.map((cell, c) => f(cell, r, c)));
}

function sameShape(a: Node[][], b: Node[][]): boolean {
  return a.length === b.length && a.every((row, r) => row.length === b[r]!.length);
}

function matrixProduct(a: Node[][], b: Node[][]): Node[][] | null {
  const inner = a[0]!.length;
  if (a.some((row) => row.length !== inner) || b.length !== inner) return null;
  const columns = b[0]!.length;
  return a.map((row) =>
    Array.from({ length: columns }, (_, c) =>
      row.map((cell, k) => bin('*', cell, b[k]![c]!)).reduce((sum, term) => bin('+', sum, term)),
    ),
  );
}

/**
 * Evaluates an expression over matrices (`Q_k` names the k-th matrix of the answer) into one matrix of
 * entry expressions: sums, differences, scalar multiples and quotients, negation, matrix products,
 * transposes (`^T`) and small integer powers. Null for anything else.
 */
function matrixValue(node: Node, matrices: Node[][][], budget: { steps: number }): MatrixValue | null {
  if (++budget.steps > 200) return null;
  if (node.kind === 'symbol') {
    const match = /^Q_(\d+)$/.exec(node.name);
    if (match) {
      const cells = matrices[Number(match[1]) - 1];
      return cells ? { kind: 'matrix', cells } : null;
    }
  }
  if (![...freeSymbols(node)].some((name) => /^Q_\d+$/.test(name))) return { kind: 'scalar', node };
  if (node.kind === 'negate') {
    const inner = matrixValue(node.argument, matrices, budget);
    if (!inner) return null;
    return inner.kind === 'matrix'
      ? { kind: 'matrix', cells: entrywise(inner.cells, (cell) => ({ kind: 'negate', argument: cell })) }
      : { kind: 'scalar', node: { kind: 'negate', argument: inner.node } };
  }
  if (node.kind !== 'binary') return null;
  if (node.op === '^') {
    const base = matrixValue(node.left, matrices, budget);
    if (base?.kind !== 'matrix') return null;
    if (node.right.kind === 'symbol' && node.right.name === 'T') {
      const cells = base.cells[0]!.map((_, c) => base.cells.map((row) => row[c]!));
      return { kind: 'matrix', cells };
    }
    const power = node.right.kind === 'number' ? node.right.value : Number.NaN;
    if (!Number.isInteger(power) || power < 1 || power > 8) return null;
    let cells: Node[][] | null = base.cells;
    for (let k = 1; k < power && cells; k++) cells = matrixProduct(cells, base.cells);
    return cells ? { kind: 'matrix', cells } : null;
  }
  const left = matrixValue(node.left, matrices, budget);
  const right = matrixValue(node.right, matrices, budget);
  if (!left || !right) return null;
  if (left.kind === 'scalar' && right.kind === 'scalar')
    return { kind: 'scalar', node: { ...node, left: left.node, right: right.node } };
  const op = node.op;
  if (op === '+' || op === '-') {
    if (left.kind !== 'matrix' || right.kind !== 'matrix' || !sameShape(left.cells, right.cells)) return null;
    return {
      kind: 'matrix',
      cells: entrywise(left.cells, (cell, r, c) => bin(op, cell, right.cells[r]![c]!)),
    };
  }
  if (op === '*') {
    if (left.kind === 'matrix' && right.kind === 'matrix') {
      const cells = matrixProduct(left.cells, right.cells);
      return cells ? { kind: 'matrix', cells } : null;
    }
    if (left.kind === 'scalar' && right.kind === 'matrix')
      return { kind: 'matrix', cells: entrywise(right.cells, (cell) => bin('*', left.node, cell)) };
    if (left.kind === 'matrix' && right.kind === 'scalar')
      return { kind: 'matrix', cells: entrywise(left.cells, (cell) => bin('*', cell, right.node)) };
  }
  if (op === '/' && left.kind === 'matrix' && right.kind === 'scalar')
    return { kind: 'matrix', cells: entrywise(left.cells, (cell) => bin('/', cell, right.node)) };
  return null;
}

function parseMatrix(text: string, depth: number): Answer | null {
  let body = text;
  if (body.startsWith('(') && body.endsWith(')') && body.includes('\\begin{pmatrix}'))
    body = body.slice(1, -1).trim();
  const match = /^\\begin\{pmatrix\}([\s\S]*)\\end\{pmatrix\}$/.exec(body);
  // Two matrices side by side (A + B) are not one matrix.
  if (!match || match[1]!.includes('\\end{pmatrix}')) return null;
  const rows = match[1]!
    .split(/\\\\/)
    .map((row) => row.trim())
    .filter((row) => row.length > 0)
    .map((row) => row.split('&').map((cell) => parseAnswer(cell, depth + 1)));
  if (rows.length === 0 || rows.length > MAX_ITEMS) return null;
  return { type: 'matrix', rows, key: compactKey(text) };
}
