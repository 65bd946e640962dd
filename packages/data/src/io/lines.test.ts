import { createWriteStream, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers.js';
import type { InputIssue } from './issues.js';
import { type LineEvent, readLines } from './lines.js';

const { dir, cleanup } = tempDir();
afterAll(cleanup);

async function collect(path: string, options: Parameters<typeof readLines>[1] = {}) {
  const lines: { text: string; line: number }[] = [];
  const issues: InputIssue[] = [];
  for await (const batch of readLines(path, options)) {
    for (const event of batch as LineEvent[]) {
      if (event.kind === 'line') lines.push({ text: event.text, line: event.line });
      else issues.push(event.issue);
    }
  }
  return { lines, issues };
}

describe('readLines', () => {
  it('reads LF and CRLF lines, a last line without newline, with 1-based numbers', async () => {
    const path = join(dir, 'plain.txt');
    writeFileSync(path, 'one\r\ntwo\n\nfour');
    const { lines, issues } = await collect(path, { chunkBytes: 3 });
    expect(lines).toEqual([
      { text: 'one', line: 1 },
      { text: 'two', line: 2 },
      { text: '', line: 3 },
      { text: 'four', line: 4 },
    ]);
    expect(issues).toEqual([]);
  });

  it('decompresses gzip by content, whatever the file name', async () => {
    const path = join(dir, 'compressed.data');
    writeFileSync(path, gzipSync('é\nß\n'));
    const { lines } = await collect(path);
    expect(lines.map((line) => line.text)).toEqual(['é', 'ß']);
  });

  it('reports a truncated gzip file with the last line read, keeping the lines before it', async () => {
    const text = Array.from({ length: 5000 }, (_, index) => `line ${index} ${'x'.repeat(40)}`).join('\n');
    const full = gzipSync(text);
    const path = join(dir, 'truncated.txt.gz');
    writeFileSync(path, full.subarray(0, Math.floor(full.length * 0.6)));
    const { lines, issues } = await collect(path);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ reason: 'truncated-gzip', action: 'skipped', file: path });
    expect(issues[0]?.message).toContain(`after line ${lines.length}`);
    expect(lines.length).toBeGreaterThan(100);
    expect(lines.length).toBeLessThan(5000);
    // Every line that came back is complete and in order.
    for (const [index, line] of lines.entries()) expect(line.text).toBe(`line ${index} ${'x'.repeat(40)}`);
  });

  it('reports corrupt gzip data', async () => {
    const full = gzipSync('a\nb\n'.repeat(1000));
    full[20] = full[20]! ^ 0xff;
    full[21] = full[21]! ^ 0xff;
    const path = join(dir, 'corrupt.gz');
    writeFileSync(path, full);
    const { issues } = await collect(path);
    expect(issues.map((issue) => issue.reason)).toEqual(['corrupt-gzip']);
  });

  it('replaces invalid UTF-8 (kept, reported with file:line) or skips it on request', async () => {
    const path = join(dir, 'latin1.txt');
    writeFileSync(
      path,
      Buffer.concat([Buffer.from('ok\n'), Buffer.from([0x63, 0x61, 0x66, 0xe9]), Buffer.from('\nend\n')]),
    );
    const replaced = await collect(path, { label: 'latin1.txt' });
    expect(replaced.lines.map((line) => line.text)).toEqual(['ok', 'caf\uFFFD', 'end']);
    expect(replaced.issues).toEqual([
      expect.objectContaining({ reason: 'invalid-utf8', action: 'repaired', line: 2 }),
    ]);
    expect(replaced.issues[0]?.message).toContain('latin1.txt:2');
    const skipped = await collect(path, { invalidUtf8: 'skip' });
    expect(skipped.lines.map((line) => line.text)).toEqual(['ok', 'end']);
    expect(skipped.lines.map((line) => line.line)).toEqual([1, 3]);
    expect(skipped.issues).toEqual([
      expect.objectContaining({ reason: 'invalid-utf8', action: 'skipped', line: 2 }),
    ]);
  });

  it('removes NUL bytes and counts them', async () => {
    const path = join(dir, 'nul.txt');
    writeFileSync(path, 'a\u0000b\u0000\nc\n');
    const { lines, issues } = await collect(path);
    expect(lines.map((line) => line.text)).toEqual(['ab', 'c']);
    expect(issues).toEqual([expect.objectContaining({ reason: 'nul-bytes', count: 2, line: 1 })]);
  });

  it('skips a 100 MB line without loading it and keeps reading', async () => {
    const path = join(dir, 'huge.jsonl');
    const stream = createWriteStream(path);
    stream.write('{"text": "before"}\n{"text": "');
    const block = 'y'.repeat(1024 * 1024);
    for (let index = 0; index < 100; index++) stream.write(block);
    stream.write('"}\n{"text": "after"}\n');
    await new Promise((resolve) => stream.end(resolve));
    globalThis.gc?.();
    const before = process.memoryUsage();
    let peak = 0;
    const lines: string[] = [];
    const issues: InputIssue[] = [];
    for await (const batch of readLines(path, { maxLineBytes: 1024 * 1024 })) {
      const usage = process.memoryUsage();
      peak = Math.max(peak, usage.arrayBuffers + usage.heapUsed - before.arrayBuffers - before.heapUsed);
      for (const event of batch) {
        if (event.kind === 'line') lines.push(event.text);
        else issues.push(event.issue);
      }
    }
    expect(lines).toEqual(['{"text": "before"}', '{"text": "after"}']);
    expect(issues).toEqual([
      expect.objectContaining({ reason: 'line-too-long', action: 'skipped', line: 2 }),
    ]);
    expect(issues[0]?.message).toContain(`${100 * 1024 * 1024 + 12} bytes`);
    // Holding the line would take ≥ 100 MB; streaming it away takes a few chunks.
    expect(peak).toBeLessThan(48 * 1024 * 1024);
  });

  it('reports unreadable files instead of throwing', async () => {
    const missing = join(dir, 'missing.txt');
    symlinkSync(join(dir, 'nowhere'), join(dir, 'dangling.txt'));
    mkdirSync(join(dir, 'folder.txt'));
    for (const path of [missing, join(dir, 'dangling.txt'), join(dir, 'folder.txt')]) {
      const { lines, issues } = await collect(path);
      expect(lines).toEqual([]);
      expect(issues).toHaveLength(1);
      expect(issues[0]?.reason).toBe('unreadable-file');
      expect(issues[0]?.message).toContain(path);
    }
  });
});
