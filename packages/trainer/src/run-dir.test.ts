import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from '@rlpt/spec';
import { describe, expect, it } from 'vitest';
import { RunDirectory } from './run-dir.js';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'rlpt-run-'));
}

describe('RunDirectory', () => {
  it('refuses to reuse a directory holding a run unless resuming', async () => {
    const root = await tempDir();
    const run = await RunDirectory.open(root);
    await run.appendMetrics({ stage: 'pretrain', step: 1, loss: 3 });
    await expect(RunDirectory.open(root)).rejects.toSatisfy((error) =>
      InvalidArgumentError.isInstance(error),
    );
    await expect(RunDirectory.open(root, { resume: true })).resolves.toBeInstanceOf(RunDirectory);
  });

  it('keeps the last checkpoints, ignores partial ones and returns the newest', async () => {
    const run = await RunDirectory.open(await tempDir());
    for (const step of [10, 20, 30]) {
      await run.checkpoint(
        { stage: 'rlpt', step, completedStages: {}, tokensSeen: step * 100 },
        async (dir) => {
          await writeFile(join(dir, 'weights.bin'), String(step));
        },
      );
    }
    const entries = (await readdir(run.checkpointsDir)).sort();
    expect(entries).toEqual(['latest.json', 'rlpt-step-20', 'rlpt-step-30']);
    // A crash mid-write leaves a temp folder; it must not be picked up.
    await writeFile(join(run.checkpointsDir, 'latest.json.tmp-1-aa'), '{');
    const latest = await run.latestCheckpoint();
    expect(latest?.state.step).toBe(30);
    expect(await readFile(join(latest!.dir, 'weights.bin'), 'utf8')).toBe('30');
  });

  it('truncates metrics to what a checkpoint covers and tolerates a torn last line', async () => {
    const run = await RunDirectory.open(await tempDir());
    for (let step = 1; step <= 5; step++) await run.appendMetrics({ stage: 'rlpt', step });
    await writeFile(run.metricsPath, `${await readFile(run.metricsPath, 'utf8')}{"stage":"rlpt","st`);
    expect((await run.readMetrics()).length).toBe(5);
    await run.truncateMetricsTo((row) => Number(row.step) <= 3);
    expect((await run.readMetrics()).map((row) => row.step)).toEqual([1, 2, 3]);
  });
});
