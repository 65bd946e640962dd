import { spawn } from 'node:child_process';
import { RlptError } from '@rlpt/spec';

/** Progress a worker reports on stdout, one JSON line per update. */
export interface WorkerProgress {
  phase: string;
  done: number;
  total?: number;
}

/** Writes one progress line for the parent (`runWorkerProcess` reads it). */
export function reportWorkerProgress(progress: WorkerProgress): void {
  process.stdout.write(`${JSON.stringify(progress)}\n`);
}

/**
 * Runs `rlpt <args…>` (this CLI, same Node flags) as a child process with one onnxruntime thread, so
 * jobs use separate cores. Progress lines go to `onProgress`, other stdout lines to `onLog`; a non-zero
 * exit throws an error with the child's last stderr and the hint to resume.
 */
export async function runWorkerProcess(options: {
  /** Job name in messages. */
  name: string;
  args: string[];
  /** Error code of a failed worker (`demo-worker`, `study-worker`). */
  code: string;
  /** What to tell the user after a failure. */
  hint: string;
  onProgress?: (progress: WorkerProgress) => void;
  onLog?: (line: string) => void;
}): Promise<void> {
  const script = process.argv[1]!;
  const child = spawn(process.execPath, [...process.execArgv, script, ...options.args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, OMP_NUM_THREADS: '1' },
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-8000);
  });
  let buffered = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      newline = buffered.indexOf('\n');
      let progress: Partial<WorkerProgress> | undefined;
      try {
        progress = JSON.parse(line) as Partial<WorkerProgress>;
      } catch {
        progress = undefined;
      }
      if (progress && typeof progress === 'object' && typeof progress.phase === 'string') {
        options.onProgress?.(progress as WorkerProgress);
      } else {
        options.onLog?.(`[${options.name}] ${line}`);
      }
    }
  });
  const code = await new Promise<number>((resolveExit) =>
    child.on('close', (exitCode) => resolveExit(exitCode ?? 1)),
  );
  if (code !== 0) {
    throw new RlptError({
      code: options.code,
      message: `Job ${options.name} failed (exit code ${code}). ${options.hint}\n${stderr.trim()}`,
    });
  }
}
