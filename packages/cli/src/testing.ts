// Helpers for the CLI's own tests (not exported from the package): run `rlpt` from its TypeScript
// sources in a child process, capture what an in-process `main()` prints, and temporary folders.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { afterAll, afterEach, beforeEach, vi } from 'vitest';
import { createProgram } from './main.js';

/** The CLI package folder, where `src/bin.ts` runs from. */
export const cliRoot = fileURLToPath(new URL('..', import.meta.url));

/** A running `rlpt` child process. */
export interface CliProcess {
  child: ChildProcess;
  /** What it has printed so far. */
  output: { stdout: string; stderr: string };
  /** Its exit code once it has exited and its output is read (null when a signal ended it). */
  exited: Promise<number | null>;
}

const running = new Set<ChildProcess>();

/** Starts `rlpt <args>` from the sources: `node --import tsx --conditions=@rlpt/source src/bin.ts <args>`. */
export function startCli(args: string[]): CliProcess {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@rlpt/source', 'src/bin.ts', ...args],
    { cwd: cliRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(child);
  const output = { stdout: '', stderr: '' };
  child.stdout?.on('data', (chunk) => {
    output.stdout += String(chunk);
  });
  child.stderr?.on('data', (chunk) => {
    output.stderr += String(chunk);
  });
  // 'close' rather than 'exit': it comes after the output streams end, so `output` is complete.
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  return { child, output, exited };
}

/** Runs `rlpt <args>` to the end. */
export async function runCli(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { output, exited } = startCli(args);
  const code = await exited;
  return { code, ...output };
}

/**
 * Resolves with the first group of `pattern` (or the whole match) once the process's stdout shows it,
 * e.g. the URL a server prints when it listens; rejects with its stderr if it exits first.
 */
export function waitForStdout(cli: CliProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const match = pattern.exec(cli.output.stdout);
      if (!match) return;
      cli.child.stdout?.off('data', check);
      resolve(match[1] ?? match[0]);
    };
    cli.child.stdout?.on('data', check);
    check();
    cli.exited.then((code) => reject(new Error(`exited with ${code}: ${cli.output.stderr}`)));
  });
}

/** Kills every CLI process still running; register with `afterEach(killCliProcesses)`. */
export function killCliProcesses(): void {
  for (const child of running) if (child.exitCode === null) child.kill('SIGKILL');
  running.clear();
}

/** What `main()` printed during the current test. */
export interface CapturedOutput {
  stdout: string[];
  stderr: string[];
}

/**
 * Captures `process.stdout`/`process.stderr` writes during each test of the file (emptied before each
 * test) and resets `process.exitCode` around it, for tests that run `main([...])` in-process.
 */
export function captureOutput(): CapturedOutput {
  const captured: CapturedOutput = { stdout: [], stderr: [] };
  beforeEach(() => {
    captured.stdout.length = 0;
    captured.stderr.length = 0;
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      captured.stdout.push(String(chunk));
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      captured.stderr.push(String(chunk));
      return true;
    });
    process.exitCode = undefined;
  });
  afterEach(() => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
  });
  return captured;
}

/**
 * Temporary folders for a test file: the returned function makes `<os tmpdir>/<prefix>XXXXXX`, and every
 * folder it made is removed after the file's tests.
 */
export function useTempDirs(): (prefix: string) => Promise<string> {
  const made: string[] = [];
  afterAll(async () => {
    for (const dir of made.splice(0)) await rm(dir, { recursive: true, force: true });
  });
  return async (prefix) => {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    made.push(dir);
    return dir;
  };
}

/** The option defaults of a (sub)command, as commander hands them to its action: `defaultFlags('serve', 'model')`. */
export function defaultFlags(...names: string[]): Record<string, unknown> {
  let command: Command | undefined = createProgram();
  for (const name of names) command = command?.commands.find((candidate) => candidate.name() === name);
  return command?.opts() ?? {};
}
