// Docs are tests: every shell command in README.md, docs/** and examples/** (```sh blocks and .sh scripts)
// runs here as written, or, where a marker says it cannot run in CI, is checked for syntax (bash -n) and
// flags (each --flag of an rlpt command exists in that subcommand). The marker convention is in
// CONTRIBUTING.md ("Docs are tests"):
//   <!-- needs: gpu -->            before a block (needs: gpu, remote-server, your-data, long, setup, fresh-machine)
//   cmd   # needs: remote-server   on one command line
//   cmd   # quick: --n 2           CI appends these flags (the doc shows them); RLPT_LONG_TESTS=1 runs cmd as is
//   # needs: gpu                   in a .sh script's header comment
// Runnable commands run in one sandbox folder whose parent holds a `shared` link to ../shared, so
// `../shared/data/...` resolves as from the repository root, with `examples/` and `docs/` linked in and
// `rlpt` from the TypeScript sources. A command already run in the sandbox is not run again (README.md,
// docs/recipes and examples/train repeat the same quick start). `rlpt serve …` runs in the background
// until the file's commands are done.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createProgram } from './main.js';
import { cliRoot, useTempDirs } from './testing.js';

const repoRoot = resolve(cliRoot, '../..');
const shared = resolve(repoRoot, '../shared');
const long = process.env.RLPT_LONG_TESTS === '1';

/** What a marker may say a command needs; anything but `long` (with RLPT_LONG_TESTS=1) means: check only. */
export const NEEDS = ['gpu', 'remote-server', 'your-data', 'long', 'setup', 'fresh-machine'] as const;

/** One command of the docs: a logical line (continuations joined), its markers and where it is. */
export interface DocCommand {
  file: string;
  line: number;
  command: string;
  needs: string[];
  /** Flags CI appends (`# quick: …`). */
  quick?: string;
}

const SHELL_LANGS = new Set(['sh', 'bash', 'shell', 'console', 'zsh']);

/** Index of an unquoted `#` that starts a comment (after whitespace or at the start), or -1. */
function commentStart(line: string): number {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (quote) {
      if (char === quote) quote = null;
      else if (char === '\\' && quote === '"') i++;
    } else if (char === "'" || char === '"') quote = char;
    else if (char === '\\') i++;
    else if (char === '#' && (i === 0 || /\s/.test(line[i - 1]!))) return i;
  }
  return -1;
}

function parseNeeds(text: string, where: string): string[] {
  const needs = text
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  for (const need of needs) {
    if (!(NEEDS as readonly string[]).includes(need))
      throw new Error(`${where}: unknown marker 'needs: ${need}' (known: ${NEEDS.join(', ')})`);
  }
  return needs;
}

/** The commands of one shell block or script: continuations joined, comments parsed for markers. */
export function shellCommands(file: string, firstLine: number, lines: string[], blockNeeds: string[]) {
  const commands: DocCommand[] = [];
  let pending = '';
  let start = firstLine;
  lines.forEach((raw, index) => {
    if (!pending) start = firstLine + index;
    const cut = commentStart(raw);
    const code = (cut < 0 ? raw : raw.slice(0, cut)).trimEnd();
    const comment = cut < 0 ? '' : raw.slice(cut + 1).trim();
    if (raw.trimEnd().endsWith('\\') && cut < 0) {
      pending += `${code.slice(0, -1).trim()} `;
      return;
    }
    // `cmd \   # comment`: the backslash escapes a space, the comment ends the command, and the next
    // line runs as a command of its own.
    if (code.endsWith('\\'))
      throw new Error(
        `${file}:${firstLine + index}: a comment after a trailing backslash ends the command there (bash); put the comment on a line of its own`,
      );
    const command = `${pending}${code.trim()}`.trim();
    pending = '';
    if (!command) return;
    const where = `${file}:${start}`;
    const needs = [...blockNeeds];
    let quick: string | undefined;
    const needsMatch = /^needs:\s*(.+)$/.exec(comment);
    if (needsMatch) needs.push(...parseNeeds(needsMatch[1]!, where));
    const quickMatch = /^quick:\s*(.+)$/.exec(comment);
    if (quickMatch) quick = quickMatch[1]!.trim();
    commands.push({ file, line: start, command, needs, ...(quick ? { quick } : {}) });
  });
  return commands;
}

/** The shell commands of a Markdown file: ```sh blocks, with `<!-- needs: … -->` before a block. */
export function markdownCommands(file: string, text: string): DocCommand[] {
  const lines = text.split('\n');
  const commands: DocCommand[] = [];
  let blockNeeds: string[] = [];
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!;
    const marker = /^\s*<!--\s*needs:\s*(.+?)\s*-->\s*$/.exec(line);
    if (marker) {
      blockNeeds = parseNeeds(marker[1]!, `${file}:${index + 1}`);
      continue;
    }
    const fence = /^\s*```+\s*([\w-]*)/.exec(line);
    if (!fence) {
      if (line.trim()) blockNeeds = [];
      continue;
    }
    const body: string[] = [];
    let end = index + 1;
    while (end < lines.length && !/^\s*```/.test(lines[end]!)) body.push(lines[end++]!);
    if (SHELL_LANGS.has(fence[1]!.toLowerCase()))
      commands.push(...shellCommands(file, index + 2, body, blockNeeds));
    blockNeeds = [];
    index = end;
  }
  return commands;
}

/** Needs of a script: `# needs: …` in its leading comment block. */
export function scriptNeeds(file: string, text: string): string[] {
  const needs: string[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    if (!line.startsWith('#')) break;
    const match = /^#\s*needs:\s*([\w-]+(?:\s*,\s*[\w-]+)*)/.exec(line);
    if (match) needs.push(...parseNeeds(match[1]!, `${file}:${index + 1}`));
  }
  return needs;
}

/** Splits a command into words (quotes removed) and segments at &&, ||, ;, | and &. */
export function shellSegments(command: string): string[][] {
  const segments: string[][] = [[]];
  let word = '';
  let inWord = false;
  let quote: string | null = null;
  const end = () => {
    if (inWord) segments.at(-1)!.push(word);
    word = '';
    inWord = false;
  };
  for (let i = 0; i < command.length; i++) {
    const char = command[i]!;
    if (quote) {
      if (char === quote) quote = null;
      else word += char;
    } else if (char === "'" || char === '"') {
      quote = char;
      inWord = true;
    } else if (char === '\\' && i + 1 < command.length) {
      word += command[++i];
      inWord = true;
    } else if (/\s/.test(char)) end();
    else if (char === '&' || char === '|' || char === ';') {
      end();
      if (command[i + 1] === char) i++;
      segments.push([]);
    } else {
      word += char;
      inWord = true;
    }
  }
  end();
  return segments.filter((segment) => segment.length > 0);
}

/** Long and short flags a commander command accepts. */
function flagsOf(command: Command): Set<string> {
  const flags = new Set(['--help', '-h']);
  for (const option of command.options) {
    if (option.long) flags.add(option.long);
    if (option.short) flags.add(option.short);
  }
  return flags;
}

const rootScripts = Object.keys(
  (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
    .scripts,
);

/**
 * Checks what can be checked without running: bash syntax (placeholders `<…>` and `…` allowed), rlpt
 * subcommands and their flags, `pnpm <script>` names, and that scripts run with `bash` exist. Returns the
 * problems.
 */
export function checkCommand(doc: DocCommand): string[] {
  const problems: string[] = [];
  const where = `${doc.file}:${doc.line}`;
  const text = doc.command.replace(/<[^<>\n]*>/g, 'PLACEHOLDER');
  const syntax = spawnSync('bash', ['-n', '-c', text], { encoding: 'utf8' });
  if (syntax.status !== 0) problems.push(`${where}: bash syntax: ${syntax.stderr.trim()}`);
  for (const words of shellSegments(text)) {
    while (words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0]!)) words.shift();
    const [program, ...args] = words;
    if (program === 'rlpt') {
      let command: Command = createProgram();
      let index = 0;
      while (index < args.length && !args[index]!.startsWith('-')) {
        const sub: Command | undefined = command.commands.find((entry) => entry.name() === args[index]);
        if (!sub) break;
        command = sub;
        index++;
      }
      const name = ['rlpt', ...args.slice(0, index)].join(' ');
      if (command.commands.length > 0 && command.name() !== 'rlpt') {
        problems.push(
          `${where}: '${name}' needs a subcommand (${command.commands.map((sub) => sub.name()).join(', ')})`,
        );
        continue;
      }
      if (index === 0) {
        problems.push(`${where}: 'rlpt ${args[0] ?? ''}' is not an rlpt command`);
        continue;
      }
      const flags = flagsOf(command);
      for (const arg of args.slice(index)) {
        if (!arg.startsWith('-') || arg === '-' || /^-\d/.test(arg)) continue;
        const flag = arg.split('=')[0]!;
        if (!flags.has(flag))
          problems.push(
            `${where}: '${name}' has no flag ${flag} (rlpt ${args.slice(0, index).join(' ')} --help)`,
          );
      }
    } else if (program === 'pnpm' && args[0] && !args[0].startsWith('-')) {
      const builtins = ['install', 'i', 'add', 'exec', 'dlx', 'run', 'changeset'];
      const script = args[0] === 'run' ? args[1] : args[0];
      if (script && !builtins.includes(script) && !rootScripts.includes(script))
        problems.push(`${where}: 'pnpm ${script}' is not a script of package.json`);
    } else if ((program === 'bash' || program === 'sh') && args[0]?.endsWith('.sh')) {
      if (!existsSync(join(repoRoot, args[0]))) problems.push(`${where}: ${args[0]} does not exist`);
    }
  }
  return problems;
}

/** Whether a command runs here (else it is only checked), and the form it runs in. */
export function runnable(doc: DocCommand, longTests = long): string | null {
  const blocking = doc.needs.filter((need) => need !== 'long');
  if (blocking.length > 0) return null;
  if (doc.needs.includes('long') && !longTests) return null;
  return doc.quick && !longTests ? `${doc.command} ${doc.quick}` : doc.command;
}

function walk(dir: string, suffix: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) =>
      entry.isDirectory()
        ? walk(join(dir, entry.name), suffix)
        : entry.name.endsWith(suffix)
          ? [join(dir, entry.name)]
          : [],
    )
    .sort();
}

/** The documented files, in reading order: README.md, docs/**, examples/** (Markdown, then scripts). */
export function docFiles(root = repoRoot): string[] {
  return [
    join(root, 'README.md'),
    ...walk(join(root, 'docs'), '.md'),
    ...walk(join(root, 'examples'), '.md'),
    ...walk(join(root, 'docs'), '.sh'),
    ...walk(join(root, 'examples'), '.sh'),
  ];
}

function commandsOf(path: string): DocCommand[] {
  const file = relative(repoRoot, path);
  const text = readFileSync(path, 'utf8');
  if (path.endsWith('.md')) return markdownCommands(file, text);
  // A script is one command: `bash <script>` from the repository root.
  return [{ file, line: 1, command: `bash ${file}`, needs: scriptNeeds(file, text) }];
}

// ---------------------------------------------------------------------------------------------------

describe('docs test: marker parsing', () => {
  it('reads blocks, continuations, block and line markers, quick flags and placeholders', () => {
    const md = [
      'Text.',
      '<!-- needs: gpu -->',
      '',
      '```sh',
      'vllm serve Qwen/Qwen3-8B --port 8000   # the judge',
      '```',
      '```sh',
      '# a comment line',
      'rlpt eval --backend onnx:m \\',
      "  --benchmarks 'a,b' --n 64   # quick: --n 2",
      'rlpt serve reward --judge openai:http://judge-host:8000/v1   # needs: remote-server',
      '```',
      '```yaml',
      'not: shell',
      '```',
    ].join('\n');
    expect(markdownCommands('x.md', md)).toEqual([
      { file: 'x.md', line: 5, command: 'vllm serve Qwen/Qwen3-8B --port 8000', needs: ['gpu'] },
      {
        file: 'x.md',
        line: 9,
        command: "rlpt eval --backend onnx:m --benchmarks 'a,b' --n 64",
        needs: [],
        quick: '--n 2',
      },
      {
        file: 'x.md',
        line: 11,
        command: 'rlpt serve reward --judge openai:http://judge-host:8000/v1',
        needs: ['remote-server'],
      },
    ]);
    expect(() =>
      markdownCommands('z.md', '```sh\nrlpt prepare in \\   # the corpus\n  --out x\n```'),
    ).toThrow(/z.md:2: a comment after a trailing backslash ends the command/);
    expect(() => markdownCommands('y.md', '<!-- needs: gpus -->\n```sh\nls\n```')).toThrow(
      /y.md:1: unknown marker 'needs: gpus'/,
    );
    expect(
      scriptNeeds('s.sh', '#!/usr/bin/env bash\n# Run it.\n# needs: gpu, remote-server\nset -e\n'),
    ).toEqual(['gpu', 'remote-server']);
  });

  it('checks rlpt subcommands and flags, pnpm scripts and bash syntax', () => {
    const doc = (command: string): DocCommand => ({ file: 'x.md', line: 3, command, needs: ['gpu'] });
    expect(checkCommand(doc("rlpt fit --metrics runs/x --stage 'eval:*' --max-a 1"))).toEqual([]);
    expect(checkCommand(doc('rlpt model init --out m && rlpt serve model --model m --port 8000'))).toEqual(
      [],
    );
    expect(checkCommand(doc('rlpt eval --backend x --no-such-flag 1'))).toEqual([
      "x.md:3: 'rlpt eval' has no flag --no-such-flag (rlpt eval --help)",
    ]);
    expect(checkCommand(doc('rlpt serve --port 1'))[0]).toMatch(
      /'rlpt serve' needs a subcommand \(model, reward, tinker\)/,
    );
    expect(checkCommand(doc('rlpt bogus'))).toEqual(["x.md:3: 'rlpt bogus' is not an rlpt command"]);
    expect(checkCommand(doc('pnpm nope'))).toEqual(["x.md:3: 'pnpm nope' is not a script of package.json"]);
    expect(checkCommand(doc('echo (')).join('')).toMatch(/bash syntax/);
    expect(checkCommand(doc('DATA=x bash examples/none.sh <flags of your release>'))).toEqual([
      'x.md:3: examples/none.sh does not exist',
    ]);
    expect(runnable({ ...doc('rlpt x'), needs: [], quick: '--n 2' }, false)).toBe('rlpt x --n 2');
    expect(runnable({ ...doc('rlpt x'), needs: [], quick: '--n 2' }, true)).toBe('rlpt x');
    expect(runnable({ ...doc('rlpt x'), needs: ['long'] }, false)).toBeNull();
    expect(runnable(doc('rlpt x'), true)).toBeNull();
  });
});

const hasShared = existsSync(join(shared, 'data'));
const makeTempDir = useTempDirs();
let sandbox: string;
let env: NodeJS.ProcessEnv;
const ran = new Set<string>();
const servers: ChildProcess[] = [];

function stopServers() {
  for (const server of servers.splice(0)) {
    if (server.exitCode === null && server.pid) {
      try {
        process.kill(-server.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  }
}

afterEach(stopServers);
afterAll(stopServers);

/** Runs one command in the sandbox; a server (`rlpt serve …`) is left running once it listens. */
function run(command: string, timeoutMs: number): Promise<{ ok: boolean; output: string }> {
  const server = /(^|&&|;)\s*rlpt serve /.test(command);
  return new Promise((resolvePromise) => {
    const child = spawn('bash', ['-c', command], { cwd: sandbox, env, detached: true });
    let output = '';
    const timer = setTimeout(() => {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
      output += `\n(killed after ${timeoutMs / 1000} s)`;
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      output += String(chunk);
      if (server && / at http:\/\/\S+/.test(output)) {
        clearTimeout(timer);
        servers.push(child);
        resolvePromise({ ok: true, output });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk) => {
      output += String(chunk);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ ok: code === 0 && !server, output });
    });
  });
}

describe.skipIf(!hasShared)('docs test: every documented command', () => {
  beforeAll(async () => {
    const root = await makeTempDir('rlpt-docs-');
    symlinkSync(shared, join(root, 'shared'));
    sandbox = join(root, 'repo');
    mkdirSync(sandbox);
    for (const name of ['examples', 'docs']) symlinkSync(join(repoRoot, name), join(sandbox, name));
    const bin = join(root, 'bin');
    mkdirSync(bin);
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    writeFileSync(
      join(bin, 'rlpt'),
      `#!/bin/sh\nexec "${process.execPath}" --import "${tsx}" --conditions=@rlpt/source "${join(cliRoot, 'src/bin.ts')}" "$@"\n`,
      { mode: 0o755 },
    );
    env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, NO_COLOR: '1' };
  });

  for (const path of docFiles()) {
    const file = relative(repoRoot, path);
    it(file, { timeout: 20 * 60_000 }, async () => {
      const problems: string[] = [];
      if (path.endsWith('.sh')) {
        const syntax = spawnSync('bash', ['-n', path], { encoding: 'utf8' });
        if (syntax.status !== 0) problems.push(`${file}: bash syntax: ${syntax.stderr.trim()}`);
      }
      for (const doc of commandsOf(path)) {
        problems.push(...checkCommand(doc));
        const command = runnable(doc);
        if (command === null || ran.has(command)) continue;
        ran.add(command);
        const { ok, output } = await run(command, 10 * 60_000);
        if (!ok)
          problems.push(
            `${doc.file}:${doc.line}: \`${command}\` failed:\n${output.split('\n').slice(-15).join('\n')}`,
          );
      }
      expect(problems, problems.join('\n\n')).toEqual([]);
    });
  }
});
