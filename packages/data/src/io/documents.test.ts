import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { afterAll, describe, expect, it } from 'vitest';
import { corpus, hasSharedData, tempDir } from '../../test/helpers.js';
import {
  type DocumentSplit,
  detectDocumentSplit,
  detectFormat,
  type InputFile,
  parseWikitextHeading,
  type RawDocument,
  type ReadDocumentsOptions,
  readDocuments,
} from './documents.js';
import type { InputIssue } from './issues.js';

const { dir, cleanup } = tempDir();
afterAll(cleanup);

async function collect(file: InputFile, options: ReadDocumentsOptions = {}) {
  const documents: RawDocument[] = [];
  const issues: InputIssue[] = [];
  for await (const batch of readDocuments(file, options)) {
    for (const event of batch) {
      if (event.kind === 'document') documents.push(event.document);
      else issues.push(event.issue);
    }
  }
  return { documents, issues };
}

function write(name: string, content: string | Buffer): InputFile {
  const path = join(dir, name);
  writeFileSync(path, content);
  return { path, label: name };
}

describe('format and split detection', () => {
  it('detects formats by extension, after .gz', () => {
    expect(detectFormat('a/b.jsonl.gz')).toBe('jsonl');
    expect(detectFormat('b.NDJSON')).toBe('jsonl');
    expect(detectFormat('c.parquet')).toBe('parquet');
    expect(detectFormat('d.txt.gz')).toBe('text');
    expect(detectFormat('README')).toBe('text');
  });

  it('parses WikiText headings by level', () => {
    expect(parseWikitextHeading(' = Homarus gammarus = ')).toEqual({ level: 1, title: 'Homarus gammarus' });
    expect(parseWikitextHeading(' = = Description = = ')).toEqual({ level: 2, title: 'Description' });
    expect(parseWikitextHeading(' = = = Eggs = = = ')).toEqual({ level: 3, title: 'Eggs' });
    expect(parseWikitextHeading(' a = b = c ')).toBeUndefined();
    expect(parseWikitextHeading(' = = Unbalanced = ')).toBeUndefined();
  });

  it.skipIf(!hasSharedData)('picks wikitext, script and blank-line splits for the real corpora', () => {
    const head = (path: string) => readFileSync(path, 'utf8').split('\n').slice(0, 400);
    expect(detectDocumentSplit(head(corpus.wikitextValid))).toBe('wikitext');
    expect(detectDocumentSplit(head(corpus.shakespeare))).toBe('script');
    expect(detectDocumentSplit(['A paragraph.', '', 'Another one.', '', 'Third.', '', 'Fourth.'])).toBe(
      'blank-line',
    );
  });
});

describe.skipIf(!hasSharedData)('real corpora (needs ../shared/data)', () => {
  it('splits WikiText-2 into its articles, dropping headings', async () => {
    const { documents, issues } = await collect({
      path: corpus.wikitextValid,
      label: 'wikitext-2/valid.txt',
    });
    const raw = readFileSync(corpus.wikitextValid, 'utf8').split('\n');
    const titles = raw.filter((line) => parseWikitextHeading(line)?.level === 1);
    expect(issues).toEqual([]);
    expect(documents).toHaveLength(titles.length);
    const first = documents[0]!;
    expect(first.title).toBe('Homarus gammarus');
    expect(first.id).toBe('wikitext-2/valid.txt:2');
    expect(first.line).toBe(2);
    expect(first.split).toBe('wikitext');
    expect(first.text.startsWith('Homarus gammarus , known as the European lobster')).toBe(true);
    expect(first.text).not.toContain('= = Description = =');
    expect(first.text).toContain('\n\nHomarus gammarus is a large <unk>');
    // Nothing lost: every non-heading, non-blank line is in exactly one document.
    const contentLines = raw.filter((line) => line.trim() !== '' && !parseWikitextHeading(line)).length;
    const paragraphs = documents.reduce((sum, document) => sum + document.text.split('\n\n').length, 0);
    expect(paragraphs).toBe(contentLines);
  });

  it('groups tiny Shakespeare speaker turns into documents with the speaker inline', async () => {
    const { documents } = await collect(
      { path: corpus.shakespeare, label: 'shakespeare.txt' },
      { turnsPerDocument: 10 },
    );
    const first = documents[0]!;
    expect(first.split).toBe('script');
    expect(first.text.split('\n\n')).toHaveLength(10);
    expect(
      first.text.startsWith(
        'First Citizen: Before we proceed any further, hear me speak.\n\nAll: Speak, speak.',
      ),
    ).toBe(true);
    const turns = readFileSync(corpus.shakespeare, 'utf8')
      .split(/\n\s*\n/)
      .filter((turn) => turn.trim() !== '');
    expect(documents).toHaveLength(Math.ceil(turns.length / 10));
  });
});

describe('plain text splits', () => {
  const text = 'Line one\nstill one.\n\nPara two.\n\n\nPara three.\n---\nAfter separator.\n';
  const cases: [DocumentSplit, string[]][] = [
    ['blank-line', ['Line one still one.', 'Para two.', 'Para three. --- After separator.']],
    ['line', ['Line one', 'still one.', 'Para two.', 'Para three.', '---', 'After separator.']],
    ['file', ['Line one still one.\n\nPara two.\n\nPara three. --- After separator.']],
    ['separator', ['Line one still one.\n\nPara two.\n\nPara three.', 'After separator.']],
  ];
  for (const [split, expected] of cases) {
    it(`documentSplit '${split}'`, async () => {
      const file = write(`split-${split}.txt`, text);
      const { documents } = await collect(file, { documentSplit: split, documentSeparator: '---' });
      expect(documents.map((document) => document.text)).toEqual(expected);
      expect(new Set(documents.map((document) => document.id)).size).toBe(documents.length);
    });
  }

  it('keeps line breaks inside paragraphs with joinLines: newline', async () => {
    const file = write('verse.txt', 'Roses are red,\nviolets are blue.\n');
    const { documents } = await collect(file, { joinLines: 'newline' });
    expect(documents[0]?.text).toBe('Roses are red,\nviolets are blue.');
  });

  it('cuts an over-long document into parts and says so', async () => {
    const paragraphs = Array.from({ length: 30 }, (_, index) => `Paragraph ${index} ${'w'.repeat(50)}.`).join(
      '\n\n',
    );
    const file = write('long.txt', paragraphs);
    const { documents, issues } = await collect(file, { documentSplit: 'file', maxDocumentChars: 500 });
    expect(documents.length).toBeGreaterThan(3);
    expect(documents[0]?.id).toBe('long.txt:1');
    expect(documents[1]?.id).toBe('long.txt:1~part2');
    expect(documents.every((document) => document.text.length <= 600)).toBe(true);
    expect(documents.map((document) => document.text).join('\n\n')).toBe(paragraphs);
    expect(issues.every((issue) => issue.reason === 'document-split' && issue.action === 'repaired')).toBe(
      true,
    );
    expect(issues.length).toBe(documents.length - 1);
  });

  it('reads gzip-compressed text', async () => {
    const file = write('a.txt.gz', gzipSync('First.\n\nSecond.\n'));
    const { documents } = await collect(file);
    expect(documents.map((document) => document.text)).toEqual(['First.', 'Second.']);
  });
});

describe('JSONL', () => {
  const lines = [
    '{"text": "First document.", "id": "a", "meta": {"src": "web"}}',
    '{"text": "Second", "id": 7}',
    'not json at all',
    '{"body": "no text field"}',
    '{"text": 42}',
    '[1, 2]',
    '',
    '{"text": "No id here."}',
    '{"text": "Nested source.", "id": "n", "meta": {"src": "books"}}',
  ];

  it('reads configured fields and reports each bad line with file:line', async () => {
    const file = write('records.jsonl', `${lines.join('\n')}\n`);
    const { documents, issues } = await collect(file, { idField: 'id', sourceField: 'meta.src' });
    expect(documents.map((document) => [document.id, document.text, document.source, document.line])).toEqual(
      [
        ['a', 'First document.', 'web', 1],
        ['7', 'Second', 'records.jsonl', 2],
        ['records.jsonl:8', 'No id here.', 'records.jsonl', 8],
        ['n', 'Nested source.', 'books', 9],
      ],
    );
    expect(issues.map((issue) => [issue.reason, issue.action, issue.line])).toEqual([
      ['malformed-json', 'skipped', 3],
      ['missing-field', 'skipped', 4],
      ['invalid-field', 'skipped', 5],
      ['malformed-json', 'skipped', 6],
      ['missing-id', 'repaired', 8],
    ]);
    expect(issues[0]?.message).toMatch(/^records\.jsonl:3: malformed JSON/);
    expect(issues[1]?.message).toContain("no 'text' field (found: body)");
  });

  it('reads a nested text field from gzip-compressed JSONL', async () => {
    const file = write('nested.jsonl.gz', gzipSync('{"doc": {"body": "Deep text."}}\n'));
    const { documents } = await collect(file, { textField: 'doc.body' });
    expect(documents.map((document) => document.text)).toEqual(['Deep text.']);
  });
});

describe('Parquet', () => {
  it('reads text, id and source columns row group by row group', async () => {
    const rows = 2500;
    const buffer = parquetWriteBuffer({
      columnData: [
        {
          name: 'content',
          data: Array.from({ length: rows }, (_, index) => `Row ${index} text.`),
          type: 'STRING',
        },
        { name: 'uid', data: Array.from({ length: rows }, (_, index) => `u${index}`), type: 'STRING' },
        { name: 'other', data: Array.from({ length: rows }, (_, index) => index), type: 'INT32' },
      ],
      rowGroupSize: 1000,
    });
    const file = write('table.parquet', Buffer.from(buffer));
    const { documents, issues } = await collect(file, { textField: 'content', idField: 'uid' });
    expect(issues).toEqual([]);
    expect(documents).toHaveLength(rows);
    expect(documents[1234]).toMatchObject({ id: 'u1234', text: 'Row 1234 text.', line: 1235 });
    const missing = await collect(file, { textField: 'text' });
    expect(missing.documents).toEqual([]);
    expect(missing.issues).toEqual([
      expect.objectContaining({ reason: 'missing-field', file: 'table.parquet' }),
    ]);
    expect(missing.issues[0]?.message).toContain('columns: content, uid, other');
  });

  it('reports a file that is not Parquet', async () => {
    const file = write('fake.parquet', 'definitely not parquet');
    const { issues } = await collect(file);
    expect(issues).toEqual([expect.objectContaining({ reason: 'invalid-parquet', file: 'fake.parquet' })]);
  });
});
