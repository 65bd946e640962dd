import { createWriteStream, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { constants, gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { corpus, hasSharedData, tempDir } from '../../test/helpers.js';
import type { InputIssue } from './issues.js';
import { type LineEvent, readLines } from './lines.js';

const { dir, cleanup } = tempDir();
afterAll(cleanup);

async function collect(path: string, options: Parameters<typeof readLines>[1] = {}, delayMs = 0) {
  const lines: { text: string; line: number }[] = [];
  const issues: InputIssue[] = [];
  for await (const batch of readLines(path, options)) {
    // A slow consumer (prepare's workers) lets the reader run ahead and buffer decoded data.
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
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

  it.skipIf(!hasSharedData)(
    'keeps every complete line a truncated gzip stream still holds, as zcat does',
    async () => {
      // Real text (WikiText-2 and Shakespeare excerpts), so the compressed file spans several read chunks.
      const text = Buffer.concat([
        readFileSync(corpus.wikitextValid).subarray(0, 400_000),
        readFileSync(corpus.shakespeare).subarray(0, 300_000),
      ]);
      const full = gzipSync(text);
      for (const fraction of [0.3, 0.77, 0.95]) {
        const path = join(dir, `cut-${fraction}.txt.gz`);
        writeFileSync(path, full.subarray(0, Math.floor(full.length * fraction)));
        // What the truncated file really holds: everything zlib can decode, minus the cut last line.
        const decodable = gunzipSync(full.subarray(0, Math.floor(full.length * fraction)), {
          finishFlush: constants.Z_SYNC_FLUSH,
        }).toString('utf8');
        const complete = decodable.split('\n').slice(0, -1);
        let zcat: string | undefined;
        try {
          zcat = execFileSync('zcat', [path], { stdio: ['ignore', 'pipe', 'ignore'] }).toString('utf8');
        } catch (error) {
          // zcat exits 1 on a truncated file but still prints what it decoded.
          const stdout = (error as { stdout?: Buffer }).stdout;
          if (stdout) zcat = stdout.toString('utf8');
        }
        if (zcat !== undefined) expect(zcat.split('\n').slice(0, -1)).toEqual(complete);
        const { lines, issues } = await collect(path, { label: 'cut.txt.gz', chunkBytes: 65_536 }, 2);
        expect(lines.map((line) => line.text)).toEqual(complete);
        expect(issues).toHaveLength(1);
        expect(issues[0]).toMatchObject({ reason: 'truncated-gzip', action: 'skipped', file: 'cut.txt.gz' });
        expect(issues[0]?.message).toContain(
          `cut.txt.gz: gzip stream is truncated after line ${complete.length}`,
        );
      }
    },
  );

  it('strips a UTF-8 byte order mark at the start of plain and gzip files', async () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    const path = join(dir, 'bom.jsonl');
    writeFileSync(path, Buffer.concat([bom, Buffer.from('{"text": "first"}\n{"text": "\uFEFFsecond"}\n')]));
    const plain = await collect(path, { chunkBytes: 2 });
    expect(plain.lines.map((line) => line.text)).toEqual(['{"text": "first"}', '{"text": "\uFEFFsecond"}']);
    expect(plain.issues).toEqual([]);
    const gz = join(dir, 'bom.txt.gz');
    writeFileSync(gz, gzipSync(Buffer.concat([bom, Buffer.from('= Title =\nbody\n')])));
    expect((await collect(gz)).lines.map((line) => line.text)).toEqual(['= Title =', 'body']);
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
