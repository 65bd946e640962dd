// The last line of defence against a silent exit 0 with work undone: if the event loop empties while a
// command is still pending, `rlpt` says so and exits 70. Reproduced the way the bug was first seen: every
// timer unref()ed (a preloaded module patches setTimeout), so a judge retry that only waits on its timer
// lets Node exit mid-run.
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startScriptedJudgeServer } from '@rlpt/reward/testing';
import { describe, expect, it } from 'vitest';
import { cliRoot, useTempDirs } from './testing.js';

const makeTempDir = useTempDirs();

describe('rlpt (bin)', () => {
  it('exits 70 with an error, never 0, when it stops with work pending', { timeout: 30_000 }, async () => {
    const dir = await makeTempDir('rlpt-bin-');
    const judge = await startScriptedJudgeServer({
      fail: (index) => (index === 0 ? { status: 503 } : undefined),
    });
    try {
      const preload = join(dir, 'unref-timers.mjs');
      await writeFile(
        preload,
        `const original = globalThis.setTimeout;
globalThis.setTimeout = (...args) => { const timer = original(...args); timer.unref?.(); return timer; };
`,
      );
      const input = join(dir, 'items.jsonl');
      await writeFile(
        input,
        `${JSON.stringify({ prediction: 'The keeper lit the lamp.', reference: 'The keeper lit the lamp at dusk.' })}\n`,
      );
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          '--import',
          preload,
          '--conditions=@rlpt/source',
          'src/bin.ts',
          'judge',
          '--input',
          input,
          '--output',
          join(dir, 'out.jsonl'),
          '--judge',
          `openai:${judge.baseURL}`,
          '--judge-model',
          judge.modelName,
          '--min-words',
          '1',
        ],
        { cwd: cliRoot, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (chunk) => {
        stderr += String(chunk);
      });
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(stderr).toContain('rlpt: error: the command stopped before finishing');
      expect(code).toBe(70);
    } finally {
      await judge.close();
    }
  });
});
