import { mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { corpus } from './helpers.js';

/** The first `articles` WikiText-2 articles (whole, from the real file). */
export function wikitextArticles(path: string, articles: number): string {
  const lines = readFileSync(path, 'utf8').split('\n');
  let seen = 0;
  const out: string[] = [];
  for (const line of lines) {
    if (/^ = [^=].* = $/.test(line)) {
      seen++;
      if (seen > articles) break;
    }
    out.push(line);
  }
  return `${out.join('\n')}\n`;
}

/** Paragraphs of the real WikiText-2 test split with more than five sentences (documents of their own). */
export function wikitextParagraphs(count: number, offset = 0): string[] {
  return readFileSync(corpus.wikitextTest, 'utf8')
    .split('\n')
    .filter((line) => line.split(' . ').length > 5 && !line.trim().startsWith('='))
    .slice(offset, offset + count)
    .map((line) => line.trim());
}

/** The first question of a benchmark file. */
export function benchmarkQuestion(name: string, field = 'question', index = 0): string {
  const line = readFileSync(join(corpus.benchmarks, `${name}.jsonl`), 'utf8').split('\n')[index]!;
  return (JSON.parse(line) as Record<string, string>)[field]!;
}

/**
 * A small corpus from the real data: WikiText-2 articles, tiny Shakespeare turns, and a JSONL file of
 * WikiText-2 test paragraphs with one exact duplicate, one near duplicate and one document containing a
 * GSM8K question.
 */
export function buildCleanCorpus(
  dir: string,
  size: { articles?: number; shakespeareLines?: number; paragraphs?: number } = {},
): string {
  const input = join(dir, 'input');
  mkdirSync(input, { recursive: true });
  writeFileSync(join(input, 'wiki.txt'), wikitextArticles(corpus.wikitextValid, size.articles ?? 3));
  const shakespeare = readFileSync(corpus.shakespeare, 'utf8')
    .split('\n')
    .slice(0, size.shakespeareLines ?? 300);
  writeFileSync(join(input, 'shakespeare.txt'), `${shakespeare.join('\n')}\n`);
  const paragraphs = wikitextParagraphs(size.paragraphs ?? 12);
  const near = paragraphs[1]!.split(' ');
  near[40] = 'altered';
  const records = [
    ...paragraphs.map((text, index) => ({ id: `p${index}`, text })),
    { id: 'exact-copy', text: paragraphs[0] },
    { id: 'near-copy', text: near.join(' ') },
    {
      id: 'leak',
      text: `${paragraphs[5]!.slice(0, 200)} ${benchmarkQuestion('gsm8k')} ${paragraphs[6]!.slice(0, 200)}`,
    },
  ];
  writeFileSync(
    join(input, 'records.jsonl'),
    `${records.map((record) => JSON.stringify(record)).join('\n')}\n`,
  );
  return input;
}

/**
 * One file per kind of bad input, each with good records around it, so a test can check that the bad one
 * is reported with its file and line and the good ones still become samples.
 */
export function buildBadCorpus(dir: string): string {
  const input = join(dir, 'bad');
  mkdirSync(input, { recursive: true });
  const [a, b, c, d, e, f, g] = wikitextParagraphs(7, 20);
  const good = (id: string, text: string) => JSON.stringify({ id, text });
  writeFileSync(
    join(input, 'malformed.jsonl'),
    [
      good('m1', a!),
      '{"id": "m2", "text": "unterminated',
      good('m3', b!),
      '{"id": "m4", "body": "no text field"}',
      '{"id": "m5", "text": ""}',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(input, 'bytes.jsonl'),
    Buffer.concat([
      Buffer.from(`${good('u1', c!)}\n`),
      ...good('u2', `caf@@ ${d!}`)
        .split('@@')
        .flatMap((part, index) =>
          index === 0 ? [Buffer.from(part)] : [Buffer.from([0xe9, 0xff]), Buffer.from(part)],
        ),
      Buffer.from('\n'),
      Buffer.from(`${good('u3', `NUL\u0000 here. ${e!}`).replace('\\u0000', '\u0000')}\n`),
    ]),
  );
  const big = join(input, 'huge.jsonl');
  writeFileSync(big, `${good('h1', f!)}\n{"id": "h2", "text": "`);
  const block = Buffer.alloc(1024 * 1024, 0x78);
  for (let index = 0; index < 100; index++) writeFileSync(big, block, { flag: 'a' });
  writeFileSync(big, `"}\n${good('h3', g!)}\n`, { flag: 'a' });
  const text = wikitextParagraphs(60, 40).join('\n\n');
  const gz = gzipSync(text);
  writeFileSync(join(input, 'truncated.txt.gz'), gz.subarray(0, Math.floor(gz.length / 2)));
  symlinkSync(join(input, 'does-not-exist.txt'), join(input, 'unreadable.txt'));
  return input;
}

/** Every file under `dir` (relative path → bytes), for byte-for-byte comparisons of outputs. */
export function readTree(dir: string, skip: (path: string) => boolean = () => false): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (folder: string) => {
    for (const name of readdirSync(folder).sort()) {
      const path = join(folder, name);
      const rel = relative(dir, path);
      if (skip(rel)) continue;
      if (statSync(path).isDirectory()) walk(path);
      else files.set(rel, readFileSync(path));
    }
  };
  walk(dir);
  return files;
}
