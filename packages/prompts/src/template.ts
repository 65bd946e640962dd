import { readFile } from 'node:fs/promises';
import { ConfigError, type ConfigIssue, InvalidArgumentError } from '@rlpt/spec';

/**
 * The four prompts RLPT needs: the two policy tasks (ASR, MSR) and the two judge prompts
 * (GRM with the prefix reward, GRM with the strict reward).
 */
export type TemplateKind = 'asr' | 'msr' | 'nextToken' | 'grmPrefix' | 'grmStrict';

/** Every template kind, in a stable order. */
export const TEMPLATE_KINDS: readonly TemplateKind[] = Object.freeze([
  'asr',
  'msr',
  'nextToken',
  'grmPrefix',
  'grmStrict',
]);

/**
 * The placeholders each kind must contain, all of them, and may contain, nothing else:
 * ASR `{context}` (s_<i); MSR `{prompt}` (s_<i) and `{next_step}` (s_{i+1}); the judges `{reference}` and
 * `{predicted}`.
 */
export const TEMPLATE_PLACEHOLDERS: Readonly<Record<TemplateKind, readonly string[]>> = Object.freeze({
  asr: Object.freeze(['context']),
  msr: Object.freeze(['prompt', 'next_step']),
  nextToken: Object.freeze(['context']),
  grmPrefix: Object.freeze(['reference', 'predicted']),
  grmStrict: Object.freeze(['reference', 'predicted']),
});

/** A parsed, validated prompt template. Render it as often as needed; it is immutable. */
export interface PromptTemplate {
  /** Where the template came from, used in every error: `paper/asr`, a file path, or `inline template`. */
  readonly name: string;
  /** The kind it was validated against; absent for free-form templates. */
  readonly kind?: TemplateKind;
  /** The template source text. */
  readonly text: string;
  /** Distinct placeholder names in order of first appearance. */
  readonly placeholders: readonly string[];
  /**
   * Substitutes `values` in one pass: substituted text is never scanned again, so a value containing
   * `{predicted}` stays literal. Throws `InvalidArgumentError` when a placeholder has no string value.
   */
  render(values: Readonly<Record<string, string>>): string;
}

/** Options for {@link compileTemplate} and {@link renderTemplate}. */
export interface CompileTemplateOptions {
  /**
   * Validate against this kind's placeholders ({@link TEMPLATE_PLACEHOLDERS}). Without a kind, the
   * placeholders are free-form (any `{identifier}`); {@link renderTemplate} then requires exactly the keys
   * of its `values`.
   */
  kind?: TemplateKind;
  /** Name used in error messages (default `inline template`). */
  name?: string;
}

const templateErrorMarker = Symbol.for('rlpt.error.prompt-template');

/**
 * A prompt template uses a placeholder its kind does not allow, or lacks one it needs. A `ConfigError`
 * (so `ConfigError.isInstance` is true) whose `issues` list every problem with its line and column.
 */
export class PromptTemplateError extends ConfigError {
  protected readonly [templateErrorMarker] = true;
  /** The template's name (preset/kind, file path, or `inline template`). */
  readonly template: string;
  readonly kind?: TemplateKind;
  /** The placeholders the template may and must use. */
  readonly allowed: readonly string[];
  /** Placeholders found in the template that are not allowed. */
  readonly unknown: readonly string[];
  /** Allowed placeholders the template does not contain. */
  readonly missing: readonly string[];

  constructor(options: {
    template: string;
    kind?: TemplateKind;
    allowed: readonly string[];
    unknown: readonly string[];
    missing: readonly string[];
    issues: ConfigIssue[];
  }) {
    const kindText = options.kind ? ` (${options.kind})` : '';
    const list = options.issues.map((issue) => `  - ${issue.path}: ${issue.message}`).join('\n');
    super({
      source: options.template,
      issues: options.issues,
      message:
        `Invalid prompt template "${options.template}"${kindText}:\n${list}\n` +
        `Allowed placeholders: ${formatPlaceholders(options.allowed)} (each exactly as written, all of them required). ` +
        'Write {{ and }} for literal braces.',
    });
    this.name = 'PromptTemplateError';
    this.template = options.template;
    if (options.kind !== undefined) this.kind = options.kind;
    this.allowed = options.allowed;
    this.unknown = options.unknown;
    this.missing = options.missing;
  }

  /** True for a `PromptTemplateError` from any copy of `@rlpt/prompts`. */
  static override isInstance(error: unknown): error is PromptTemplateError {
    return (
      typeof error === 'object' &&
      error !== null &&
      (error as Record<symbol, unknown>)[templateErrorMarker] === true
    );
  }
}

interface PlaceholderPart {
  name: string;
  line: number;
  column: number;
}
type Part = string | PlaceholderPart;

const identifier = /[A-Za-z_][A-Za-z0-9_]*\}/y;

/**
 * Splits a template into literal text and `{name}` placeholders, Python `str.format` style: `{{` and `}}`
 * are literal braces; any other brace that does not form `{identifier}` is kept as literal text.
 */
function parse(text: string): Part[] {
  const parts: Part[] = [];
  let literal = '';
  let line = 1;
  let lineStart = 0;
  let index = 0;
  while (index < text.length) {
    const char = text.charCodeAt(index);
    if (char === 0x7b /* { */) {
      if (text.charCodeAt(index + 1) === 0x7b) {
        literal += '{';
        index += 2;
        continue;
      }
      identifier.lastIndex = index + 1;
      const match = identifier.exec(text);
      if (match) {
        if (literal) parts.push(literal);
        literal = '';
        parts.push({ name: match[0].slice(0, -1), line, column: index - lineStart + 1 });
        index = identifier.lastIndex;
        continue;
      }
      literal += '{';
      index += 1;
    } else if (char === 0x7d /* } */) {
      literal += '}';
      index += text.charCodeAt(index + 1) === 0x7d ? 2 : 1;
    } else {
      let next = index + 1;
      while (next < text.length) {
        const code = text.charCodeAt(next);
        if (code === 0x7b || code === 0x7d || code === 0x0a) break;
        next += 1;
      }
      if (char === 0x0a) {
        line += 1;
        lineStart = index + 1;
      }
      literal += text.slice(index, next);
      index = next;
    }
  }
  if (literal) parts.push(literal);
  return parts;
}

function formatPlaceholders(names: readonly string[]): string {
  return names.length === 0 ? '(none)' : names.map((name) => `{${name}}`).join(', ');
}

function locate(text: string, index: number): string {
  let line = 1;
  let lineStart = 0;
  for (
    let position = text.indexOf('\n');
    position >= 0 && position < index;
    position = text.indexOf('\n', position + 1)
  ) {
    line += 1;
    lineStart = position + 1;
  }
  return `line ${line}, column ${index - lineStart + 1}`;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(substitution, (previous[j] as number) + 1, (current[j - 1] as number) + 1));
    }
    previous = current;
  }
  return previous[b.length] as number;
}

/** The allowed name an unknown placeholder most likely meant, if any is close. */
function suggest(name: string, allowed: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of allowed) {
    const distance = editDistance(lower, candidate.toLowerCase());
    const close =
      distance <= Math.max(2, Math.floor(candidate.length / 3)) ||
      candidate.startsWith(lower) ||
      lower.startsWith(candidate);
    if (close && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Explains a missing placeholder written in a way this syntax reads as literal text. */
function nearMiss(text: string, rawName: string): string {
  const name = rawName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const doubled = new RegExp(`\\{\\{\\s*${name}\\s*\\}\\}`).exec(text);
  if (doubled) {
    return `; found "${doubled[0]}" at ${locate(text, doubled.index)}, but double braces are literal braces here (Python str.format style): write {${rawName}}`;
  }
  const spaced = new RegExp(`\\{\\s+${name}\\s*\\}|\\{\\s*${name}\\s+\\}`).exec(text);
  if (spaced) {
    return `; found "${spaced[0]}" at ${locate(text, spaced.index)}: write {${rawName}} without spaces`;
  }
  return '';
}

function validate(
  text: string,
  parts: readonly Part[],
  allowed: readonly string[],
  template: string,
  kind: TemplateKind | undefined,
): void {
  const issues: ConfigIssue[] = [];
  const unknown: string[] = [];
  const found = new Set<string>();
  const allowedSet = new Set(allowed);
  const allowedText = kind
    ? `${kind} templates allow ${formatPlaceholders(allowed)}`
    : `values were given for ${formatPlaceholders(allowed)}`;
  for (const part of parts) {
    if (typeof part === 'string') continue;
    found.add(part.name);
    if (!allowedSet.has(part.name)) {
      if (!unknown.includes(part.name)) unknown.push(part.name);
      const suggestion = suggest(part.name, allowed);
      issues.push({
        path: `{${part.name}}`,
        message:
          `unknown placeholder at line ${part.line}, column ${part.column}` +
          `${suggestion ? ` (did you mean {${suggestion}}?)` : ''}; ${allowedText}`,
      });
    }
  }
  const missing = allowed.filter((name) => !found.has(name));
  for (const name of missing) {
    issues.push({
      path: `{${name}}`,
      message: `missing placeholder; the template must contain {${name}}${nearMiss(text, name)} (${allowedText})`,
    });
  }
  if (issues.length > 0) {
    throw new PromptTemplateError({
      template,
      ...(kind === undefined ? {} : { kind }),
      allowed,
      unknown,
      missing,
      issues,
    });
  }
}

class CompiledTemplate implements PromptTemplate {
  readonly name: string;
  readonly kind?: TemplateKind;
  readonly text: string;
  readonly placeholders: readonly string[];
  readonly #parts: readonly Part[];

  constructor(text: string, parts: readonly Part[], name: string, kind: TemplateKind | undefined) {
    this.name = name;
    if (kind !== undefined) this.kind = kind;
    this.text = text;
    this.#parts = parts;
    const names: string[] = [];
    for (const part of parts) {
      if (typeof part !== 'string' && !names.includes(part.name)) names.push(part.name);
    }
    this.placeholders = Object.freeze(names);
    Object.freeze(this);
  }

  render(values: Readonly<Record<string, string>>): string {
    if (typeof values !== 'object' || values === null) {
      throw new InvalidArgumentError({
        argument: 'values',
        message: `Prompt template "${this.name}" needs an object of placeholder values; got ${values === null ? 'null' : typeof values}.`,
      });
    }
    for (const name of this.placeholders) {
      const value = Object.hasOwn(values, name) ? values[name] : undefined;
      if (typeof value !== 'string') {
        throw new InvalidArgumentError({
          argument: `values.${name}`,
          message:
            `Prompt template "${this.name}" needs a string for {${name}}; got ${value === null ? 'null' : typeof value}. ` +
            `Placeholders of this template: ${formatPlaceholders(this.placeholders)}.`,
        });
      }
    }
    let output = '';
    for (const part of this.#parts) output += typeof part === 'string' ? part : values[part.name];
    return output;
  }
}

const cacheLimit = 256;
const cache = new Map<string, PromptTemplate>();

/**
 * Parses and validates a template. With a `kind`, the template must contain every placeholder of
 * {@link TEMPLATE_PLACEHOLDERS}`[kind]` and no other; otherwise any `{identifier}` is a placeholder.
 * `{{` and `}}` are literal braces; other braces are literal text. Results are cached by text, kind and name.
 *
 * @throws PromptTemplateError listing every unknown and missing placeholder with line and column.
 */
export function compileTemplate(text: string, options: CompileTemplateOptions = {}): PromptTemplate {
  const name = options.name ?? 'inline template';
  if (typeof text !== 'string') {
    throw new InvalidArgumentError({
      argument: 'template',
      message: `Prompt template "${name}" must be a string; got ${text === null ? 'null' : typeof text}.`,
    });
  }
  const { kind } = options;
  if (kind !== undefined && !Object.hasOwn(TEMPLATE_PLACEHOLDERS, kind)) {
    throw new InvalidArgumentError({
      argument: 'kind',
      message: `Unknown template kind "${String(kind)}" for "${name}"; expected one of ${TEMPLATE_KINDS.join(', ')}.`,
    });
  }
  const key = `${kind ?? ''}\u0000${name}\u0000${text}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const parts = parse(text);
  if (kind !== undefined) validate(text, parts, TEMPLATE_PLACEHOLDERS[kind], name, kind);
  const template = new CompiledTemplate(text, parts, name, kind);
  if (cache.size >= cacheLimit) cache.delete(cache.keys().next().value as string);
  cache.set(key, template);
  return template;
}

/**
 * Renders a template (a string or a compiled {@link PromptTemplate}) with `values`, in one pass.
 *
 * - A {@link PromptTemplate} renders with its own validation.
 * - A string with `options.kind` is validated against that kind first.
 * - A string without a kind must use exactly the keys of `values`: a placeholder without a value is
 *   unknown, a value without a placeholder is missing; both throw {@link PromptTemplateError}.
 *
 * @example
 * renderTemplate('Q: {question}\nA:', { question: 'What is {x}?' }) // 'Q: What is {x}?\nA:'
 */
export function renderTemplate(
  template: string | PromptTemplate,
  values: Readonly<Record<string, string>>,
  options: CompileTemplateOptions = {},
): string {
  if (typeof template !== 'string') {
    if (options.kind !== undefined && template.kind !== undefined && template.kind !== options.kind) {
      throw new InvalidArgumentError({
        argument: 'template',
        message: `Prompt template "${template.name}" is a ${template.kind} template, but a ${options.kind} template is needed.`,
      });
    }
    if (options.kind !== undefined && template.kind === undefined) {
      return compileTemplate(template.text, { kind: options.kind, name: template.name }).render(values);
    }
    return template.render(values);
  }
  if (options.kind !== undefined) return compileTemplate(template, options).render(values);
  const compiled = compileTemplate(template, options);
  if (typeof values === 'object' && values !== null) {
    const keys = Object.keys(values);
    const exact =
      keys.length === compiled.placeholders.length &&
      compiled.placeholders.every((name) => Object.hasOwn(values, name));
    // Parse again only to build the error (with line and column) when the placeholders and keys differ.
    if (!exact) validate(template, parse(template), keys, compiled.name, undefined);
  }
  return compiled.render(values);
}

/**
 * Reads a template from a UTF-8 file and validates it against `kind`. A UTF-8 byte-order mark is dropped;
 * everything else, including a final newline, is kept byte for byte.
 *
 * @throws InvalidArgumentError when the file cannot be read; PromptTemplateError when its placeholders are wrong
 *   (the error's `template` is the file path).
 */
export async function loadTemplate(file: string, options: { kind: TemplateKind }): Promise<PromptTemplate> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String(cause);
    throw new InvalidArgumentError({
      argument: 'file',
      message: `Cannot read the ${options.kind} prompt template ${file}: ${reason}. Check the path (relative paths resolve from ${process.cwd()}).`,
      cause,
    });
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return compileTemplate(text, { kind: options.kind, name: file });
}
