import { basename } from 'node:path';
import type { InputIssue } from './issues.js';
import { type LineEvent, readLines } from './lines.js';

/** How a file is parsed. `auto` picks by extension (after stripping `.gz`). */
export type InputFormat = 'auto' | 'text' | 'jsonl' | 'parquet';

/**
 * How plain text is cut into documents.
 * - `auto`: `wikitext` when the first non-blank line is a top-level ` = Title = ` heading, `script` when most
 *   of the first paragraphs are speaker turns (`NAME:` on its own line), else `blank-line`.
 * - `blank-line`: every paragraph (lines up to a blank line) is a document.
 * - `line`: every non-blank line is a document.
 * - `file`: the whole file is one document (cut at `maxDocumentChars`).
 * - `wikitext`: articles start at top-level ` = Title = ` headings; ` = = Section = = ` headings are dropped
 *   (or kept with `keepHeadings`); every line is a paragraph, as WikiText writes them.
 * - `script`: speaker turns (`NAME:` then the speech) become `NAME: speech` paragraphs, grouped
 *   `turnsPerDocument` to a document.
 * - `separator`: a line equal to `documentSeparator` ends a document.
 */
export type DocumentSplit = 'auto' | 'blank-line' | 'line' | 'file' | 'wikitext' | 'script' | 'separator';

/** The split actually applied to a file (`auto` resolved). */
export type ResolvedDocumentSplit = Exclude<DocumentSplit, 'auto'>;

/** Options of {@link readDocuments}. */
export interface ReadDocumentsOptions {
  format?: InputFormat;
  documentSplit?: DocumentSplit;
  /** Separator line for `documentSplit: 'separator'` (compared after trimming). */
  documentSeparator?: string;
  /** Speaker turns per document for `script`. Default 32. */
  turnsPerDocument?: number;
  /** Keep WikiText section headings as paragraphs. Default false. */
  keepHeadings?: boolean;
  /** How lines inside one paragraph are joined: `space` (default; verse and wrapped prose) or `newline`. */
  joinLines?: 'space' | 'newline';
  /** JSONL/Parquet field holding the text (dotted path for nested objects). Default `text`. */
  textField?: string;
  /** JSONL/Parquet field holding the document id. Default: `<file>:<line>`. */
  idField?: string;
  /** JSONL/Parquet field naming the document's source. Default: the file label. */
  sourceField?: string;
  /** Documents longer than this many characters are cut at paragraph (or line) boundaries. Default 1,000,000. */
  maxDocumentChars?: number;
  maxLineBytes?: number;
  invalidUtf8?: 'replace' | 'skip';
  signal?: AbortSignal;
  /** Called as the file is read with the bytes read so far. */
  onProgress?: (bytesRead: number) => void;
}

/** A document as read, before normalisation. */
export interface RawDocument {
  id: string;
  text: string;
  /** Where it came from: the `sourceField` value or the file label. */
  source: string;
  /** File label (path relative to the inputs' common folder). */
  file: string;
  /** 1-based line (row for Parquet) where the document starts. */
  line: number;
  /** The document split that produced it (`jsonl`/`parquet` for records). */
  split: ResolvedDocumentSplit | 'record';
  /** Article title (WikiText). */
  title?: string;
}

/** What {@link readDocuments} yields: a document, or an input problem found on the way. */
export type DocumentEvent =
  | { kind: 'document'; document: RawDocument }
  | { kind: 'issue'; issue: InputIssue };

/** A file to read and the label it carries in ids, issues and outputs. */
export interface InputFile {
  path: string;
  label: string;
}

export const defaultMaxDocumentChars = 1_000_000;

/** The format `auto` resolves to for a path. */
export function detectFormat(path: string): Exclude<InputFormat, 'auto'> {
  const name = basename(path).toLowerCase().replace(/\.gz$/, '');
  if (name.endsWith('.jsonl') || name.endsWith('.ndjson') || name.endsWith('.json')) return 'jsonl';
  if (name.endsWith('.parquet')) return 'parquet';
  return 'text';
}

const headingPattern = /^\s*((?:= )+)(.*?)((?: =)+)\s*$/;
const speakerPattern = /^[A-Z][A-Za-z0-9' .,&-]{0,40}:$/;

/** WikiText heading level (1 for ` = Title = `) and title, or undefined. */
export function parseWikitextHeading(line: string): { level: number; title: string } | undefined {
  const match = headingPattern.exec(line);
  if (!match) return undefined;
  const open = (match[1] ?? '').length / 2;
  const close = (match[3] ?? '').length / 2;
  if (open !== close || !match[2]) return undefined;
  return { level: open, title: match[2].trim() };
}

/** Picks a split for plain text from its first lines (see {@link DocumentSplit} `auto`). */
export function detectDocumentSplit(firstLines: string[]): ResolvedDocumentSplit {
  const firstNonBlank = firstLines.find((line) => line.trim() !== '');
  if (firstNonBlank !== undefined && parseWikitextHeading(firstNonBlank)?.level === 1) return 'wikitext';
  let paragraphs = 0;
  let turns = 0;
  let atParagraphStart = true;
  for (const line of firstLines) {
    if (line.trim() === '') {
      atParagraphStart = true;
      continue;
    }
    if (atParagraphStart) {
      paragraphs++;
      if (speakerPattern.test(line.trim())) turns++;
    }
    atParagraphStart = false;
  }
  if (paragraphs >= 4 && turns / paragraphs >= 0.6) return 'script';
  return 'blank-line';
}

function getPath(value: unknown, path: string): unknown {
  let current = value;
  for (const key of path.split('.')) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** Builds documents out of the lines of a text file for one split mode. */
class TextDocumentBuilder {
  private paragraphs: string[] = [];
  private paragraphLines: string[] = [];
  private paragraphChars = 0;
  private documentChars = 0;
  private documentLine = 0;
  private paragraphLine = 0;
  private title: string | undefined;
  private turns = 0;
  private part = 1;
  readonly output: DocumentEvent[] = [];

  constructor(
    private readonly file: InputFile,
    private readonly split: ResolvedDocumentSplit,
    private readonly options: ReadDocumentsOptions,
  ) {}

  private get maxChars(): number {
    return this.options.maxDocumentChars ?? defaultMaxDocumentChars;
  }

  private emit(): void {
    if (this.paragraphs.length === 0) return;
    const baseId = `${this.file.label}:${this.documentLine}`;
    const id = this.part === 1 ? baseId : `${baseId}~part${this.part}`;
    const document: RawDocument = {
      id,
      text: this.paragraphs.join('\n\n'),
      source: this.file.label,
      file: this.file.label,
      line: this.documentLine,
      split: this.split,
    };
    if (this.title !== undefined) document.title = this.title;
    this.output.push({ kind: 'document', document });
    this.paragraphs = [];
    this.documentChars = 0;
    this.turns = 0;
  }

  /** Ends the current document (a new one starts at the next paragraph). */
  private endDocument(): void {
    this.endParagraph();
    this.emit();
    this.part = 1;
    this.documentLine = 0;
  }

  private endParagraph(): void {
    if (this.paragraphLines.length === 0) return;
    let text: string;
    if (this.split === 'script' && speakerPattern.test(this.paragraphLines[0]?.trim() ?? '')) {
      const [speaker, ...speech] = this.paragraphLines;
      text = speech.length > 0 ? `${speaker?.trim()} ${this.joinLines(speech)}` : (speaker?.trim() ?? '');
      this.turns++;
    } else {
      text = this.joinLines(this.paragraphLines);
    }
    this.paragraphLines = [];
    this.paragraphChars = 0;
    if (this.documentLine === 0) this.documentLine = this.paragraphLine;
    this.paragraphs.push(text);
    this.documentChars += text.length + 2;
    if (this.documentChars >= this.maxChars) this.splitOversized();
    if (this.split === 'blank-line') this.endDocument();
    else if (this.split === 'script' && this.turns >= (this.options.turnsPerDocument ?? 32))
      this.endDocument();
  }

  private splitOversized(): void {
    const id = `${this.file.label}:${this.documentLine}`;
    this.output.push({
      kind: 'issue',
      issue: {
        reason: 'document-split',
        action: 'repaired',
        file: this.file.label,
        line: this.documentLine,
        id,
        message: `${this.file.label}:${this.documentLine}: document ${id} reached maxDocumentChars (${this.maxChars}); it was cut into parts (${id}~part${this.part + 1} …). Raise maxDocumentChars or choose another documentSplit.`,
      },
    });
    const firstLine = this.documentLine;
    this.emit();
    this.part++;
    this.documentLine = firstLine;
  }

  private joinLines(lines: string[]): string {
    return lines.map((line) => line.trim()).join(this.options.joinLines === 'newline' ? '\n' : ' ');
  }

  push(text: string, line: number): void {
    const trimmed = text.trim();
    if (this.split === 'line') {
      if (trimmed === '') return;
      this.paragraphLine = line;
      this.paragraphLines.push(trimmed);
      this.endDocument();
      return;
    }
    if (this.split === 'separator' && trimmed === (this.options.documentSeparator ?? '').trim()) {
      this.endDocument();
      return;
    }
    if (this.split === 'wikitext') {
      const heading = parseWikitextHeading(text);
      if (heading) {
        if (heading.level === 1) {
          this.endDocument();
          this.title = heading.title;
          this.documentLine = line;
          return;
        }
        this.endParagraph();
        if (this.options.keepHeadings) {
          this.paragraphLine = line;
          this.paragraphLines.push(heading.title);
          this.endParagraph();
        }
        return;
      }
    }
    if (trimmed === '') {
      this.endParagraph();
      return;
    }
    if (this.paragraphLines.length === 0) this.paragraphLine = line;
    this.paragraphLines.push(text);
    // WikiText writes one paragraph per line (blank lines only around headings).
    if (this.split === 'wikitext') {
      this.endParagraph();
      return;
    }
    // A single paragraph may itself be huge: cut it at a line boundary.
    this.paragraphChars += text.length + 1;
    if (this.documentChars + this.paragraphChars >= this.maxChars) this.endParagraph();
  }

  end(): void {
    this.endDocument();
  }
}

/** The lines of an input file, read with the documents options that apply to lines. */
function readFileLines(
  file: InputFile,
  options: ReadDocumentsOptions,
): AsyncGenerator<LineEvent[], void, undefined> {
  return readLines(file.path, {
    label: file.label,
    maxLineBytes: options.maxLineBytes,
    invalidUtf8: options.invalidUtf8,
    signal: options.signal,
    onProgress: options.onProgress,
  });
}

async function* readTextDocuments(
  file: InputFile,
  options: ReadDocumentsOptions,
): AsyncGenerator<DocumentEvent[], void, undefined> {
  let builder: TextDocumentBuilder | undefined;
  const held: LineEvent[][] = [];
  let heldLines = 0;
  const requested = options.documentSplit ?? 'auto';
  if (requested !== 'auto') builder = new TextDocumentBuilder(file, requested, options);

  const feed = (batch: LineEvent[]): DocumentEvent[] => {
    const active = builder!;
    const out = active.output;
    for (const event of batch) {
      if (event.kind === 'issue') out.push(event);
      else active.push(event.text, event.line);
    }
    return out.splice(0, out.length);
  };

  for await (const batch of readFileLines(file, options)) {
    if (!builder) {
      held.push(batch);
      for (const event of batch) if (event.kind === 'line' && event.text.trim() !== '') heldLines++;
      if (heldLines < 64) continue;
      const lines = held.flat().flatMap((event) => (event.kind === 'line' ? [event.text] : []));
      builder = new TextDocumentBuilder(file, detectDocumentSplit(lines.slice(0, 400)), options);
      const out: DocumentEvent[] = [];
      for (const heldBatch of held.splice(0)) out.push(...feed(heldBatch));
      if (out.length > 0) yield out;
      continue;
    }
    const out = feed(batch);
    if (out.length > 0) yield out;
  }
  if (!builder) {
    const lines = held.flat().flatMap((event) => (event.kind === 'line' ? [event.text] : []));
    builder = new TextDocumentBuilder(file, detectDocumentSplit(lines), options);
    for (const heldBatch of held.splice(0)) builder.output.push(...feed(heldBatch));
  }
  builder.end();
  const rest = builder.output.splice(0);
  if (rest.length > 0) yield rest;
}

/** Turns one parsed JSONL/Parquet record into a document, or an issue. */
export function recordToDocument(
  record: unknown,
  file: InputFile,
  line: number,
  options: ReadDocumentsOptions,
): DocumentEvent[] {
  const where = `${file.label}:${line}`;
  const textField = options.textField ?? 'text';
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    return [
      {
        kind: 'issue',
        issue: {
          reason: 'malformed-json',
          action: 'skipped',
          file: file.label,
          line,
          message: `${where}: expected a JSON object, got ${Array.isArray(record) ? 'an array' : typeof record}; the record was skipped.`,
        },
      },
    ];
  }
  const text = getPath(record, textField);
  if (text === undefined || text === null) {
    const keys = Object.keys(record).slice(0, 8).join(', ');
    return [
      {
        kind: 'issue',
        issue: {
          reason: 'missing-field',
          action: 'skipped',
          file: file.label,
          line,
          message: `${where}: no '${textField}' field (found: ${keys || 'none'}); the record was skipped. Set textField to the field holding the text.`,
        },
      },
    ];
  }
  if (typeof text !== 'string') {
    return [
      {
        kind: 'issue',
        issue: {
          reason: 'invalid-field',
          action: 'skipped',
          file: file.label,
          line,
          message: `${where}: field '${textField}' is ${Array.isArray(text) ? 'an array' : typeof text}, not a string; the record was skipped.`,
        },
      },
    ];
  }
  const events: DocumentEvent[] = [];
  let id = `${file.label}:${line}`;
  if (options.idField) {
    const value = getPath(record, options.idField);
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint') {
      id = String(value);
    } else {
      events.push({
        kind: 'issue',
        issue: {
          reason: 'missing-id',
          action: 'repaired',
          file: file.label,
          line,
          id,
          message: `${where}: no usable '${options.idField}' id field; the document was kept with id '${id}'.`,
        },
      });
    }
  }
  let source = file.label;
  if (options.sourceField) {
    const value = getPath(record, options.sourceField);
    if (typeof value === 'string' && value !== '') source = value;
  }
  events.push({ kind: 'document', document: { id, text, source, file: file.label, line, split: 'record' } });
  return events;
}

async function* readJsonlDocuments(
  file: InputFile,
  options: ReadDocumentsOptions,
): AsyncGenerator<DocumentEvent[], void, undefined> {
  for await (const batch of readFileLines(file, options)) {
    const out: DocumentEvent[] = [];
    for (const event of batch) {
      if (event.kind === 'issue') {
        out.push(event);
        continue;
      }
      if (event.text.trim() === '') continue;
      let record: unknown;
      try {
        record = JSON.parse(event.text);
      } catch (error) {
        const snippet = event.text.length > 60 ? `${event.text.slice(0, 60)}…` : event.text;
        out.push({
          kind: 'issue',
          issue: {
            reason: 'malformed-json',
            action: 'skipped',
            file: file.label,
            line: event.line,
            message: `${file.label}:${event.line}: malformed JSON (${error instanceof Error ? error.message : String(error)}) in ${JSON.stringify(snippet)}; the line was skipped.`,
          },
        });
        continue;
      }
      out.push(...recordToDocument(record, file, event.line, options));
    }
    if (out.length > 0) yield out;
  }
}

async function* readParquetDocuments(
  file: InputFile,
  options: ReadDocumentsOptions,
): AsyncGenerator<DocumentEvent[], void, undefined> {
  const { readParquetRecords } = await import('./parquet.js');
  const fields = [options.textField ?? 'text', options.idField, options.sourceField].filter(
    (field): field is string => typeof field === 'string',
  );
  for await (const batch of readParquetRecords(file, { fields, signal: options.signal })) {
    const out: DocumentEvent[] = [];
    for (const item of batch) {
      if (item.kind === 'issue') out.push(item);
      else out.push(...recordToDocument(item.record, file, item.row, options));
    }
    if (out.length > 0) yield out;
  }
}

/**
 * Streams the documents of one file (text, JSONL or Parquet; text and JSONL may be gzip-compressed) in
 * batches, in file order. Bad input comes back as issues, never as exceptions.
 */
export function readDocuments(
  file: InputFile,
  options: ReadDocumentsOptions = {},
): AsyncGenerator<DocumentEvent[], void, undefined> {
  const format = options.format && options.format !== 'auto' ? options.format : detectFormat(file.path);
  if (format === 'jsonl') return readJsonlDocuments(file, options);
  if (format === 'parquet') return readParquetDocuments(file, options);
  return readTextDocuments(file, options);
}
