import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InvalidInputError } from '@rlpt/spec';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCsv, readRecordFile } from './records.js';

const folder = mkdtempSync(path.join(tmpdir(), 'rlpt-records-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));
const write = (name: string, content: string) => {
  const file = path.join(folder, name);
  writeFileSync(file, content);
  return file;
};

describe('parseCsv (RFC 4180)', () => {
  it('handles quotes, doubled quotes, commas and newlines in fields, CRLF', () => {
    const rows = parseCsv('a,b,c\r\n"x, y","say ""hi""","line1\nline2"\r\n1,,3\n');
    expect(rows).toEqual([
      { cells: ['a', 'b', 'c'], line: 1 },
      { cells: ['x, y', 'say "hi"', 'line1\nline2'], line: 2 },
      { cells: ['1', '', '3'], line: 4 },
    ]);
  });
  it('keeps a last row without a newline and skips blank lines', () => {
    expect(parseCsv('a,b\n\n1,2')).toEqual([
      { cells: ['a', 'b'], line: 1 },
      { cells: ['1', '2'], line: 3 },
    ]);
  });
});

describe('readRecordFile', () => {
  it('JSONL: bad lines are reported with file:line and skipped', async () => {
    const file = write('items.jsonl', '{"a":1}\nnot json\n[1,2]\n\n{"a":2}\n');
    const { records, problems } = await readRecordFile(file);
    expect(records.map((record) => [record.record.a, record.line])).toEqual([
      [1, 1],
      [2, 5],
    ]);
    expect(problems.map((problem) => problem.location.line)).toEqual([2, 3]);
    expect(problems[0]!.message).toMatch(/items\.jsonl:2: not a JSON object/);
  });
  it('JSON: arrays, {"data": [...]} and id maps', async () => {
    expect((await readRecordFile(write('a.json', '[{"x":1},{"x":2}]'))).records).toHaveLength(2);
    expect((await readRecordFile(write('b.json', '{"data":[{"x":1}]}'))).records[0]!.record).toEqual({
      x: 1,
    });
    expect((await readRecordFile(write('c.json', '{"p1":{"x":1},"p2":{"x":2}}'))).records[1]!.record).toEqual(
      { id: 'p2', x: 2 },
    );
    expect((await readRecordFile(write('d.json', '{"x":1}\n{"x":2}\n'))).records).toHaveLength(2);
  });
  it('CSV with a header row; ragged rows reported', async () => {
    const { records, problems } = await readRecordFile(
      write('t.csv', 'Question,Answer\n"What, now?",5\nbad\n'),
    );
    expect(records[0]!.record).toEqual({ Question: 'What, now?', Answer: '5' });
    expect(problems[0]!.message).toMatch(/t\.csv:3: 1 cells where the header has 2/);
  });
  it('a UTF-8 BOM is ignored', async () => {
    const { records } = await readRecordFile(write('bom.jsonl', '\ufeff{"a":1}\n'));
    expect(records[0]!.record).toEqual({ a: 1 });
  });
  it('unsupported and unreadable files are InvalidInputErrors naming the file', async () => {
    await expect(readRecordFile(write('x.txt', 'hi'))).rejects.toSatisfy(
      (error: unknown) =>
        InvalidInputError.isInstance(error) &&
        /x\.txt: unsupported benchmark file type '\.txt'/.test(error.message),
    );
    await expect(readRecordFile(path.join(folder, 'missing.jsonl'))).rejects.toThrow(
      /missing\.jsonl: cannot read/,
    );
    await expect(readRecordFile(write('broken.parquet', 'not parquet'))).rejects.toThrow(
      /broken\.parquet: cannot read the Parquet file/,
    );
  });
});
