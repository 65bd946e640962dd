import { readdir, readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareDemo } from '@rlpt/data';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../main.js';
import { captureOutput, useTempDirs } from '../testing.js';

const { stderr } = captureOutput();
const makeTempDir = useTempDirs();
const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../..');
const example = join(repoRoot, 'examples/train/run.yaml');
const long = process.env.RLPT_LONG_TESTS === '1';
let dir: string;
let demo: string;

beforeAll(async () => {
  dir = await makeTempDir('rlpt-cli-train-repro-');
  demo = join(dir, 'demo');
  await prepareDemo({ out: demo }); // what `rlpt prepare --demo` writes
});

/** Every file under `root` (relative paths, sorted). */
async function files(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(root, join(entry.parentPath, entry.name)))
    .sort();
}

/** metrics.jsonl without the wall-clock fields (`seconds`, `seconds.*`), the only ones allowed to differ. */
async function metricsWithoutTimes(runDir: string): Promise<string[]> {
  return (await readFile(join(runDir, 'metrics.jsonl'), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line) =>
      JSON.stringify(
        Object.fromEntries(
          Object.entries(JSON.parse(line) as Record<string, unknown>).filter(
            ([key]) => !key.startsWith('seconds'),
          ),
        ),
      ),
    );
}

/**
 * Two runs of the shipped example at once (each one loads the machine for the other, the condition under
 * which multi-threaded onnxruntime kernels reduce in a varying order), then a byte comparison of what
 * they wrote: metrics, rollout samples, the initial model, every checkpoint's weights and optimizer state.
 */
async function trainTwice(name: string, flags: string[]): Promise<void> {
  const runDirs = [join(dir, `${name}-a`), join(dir, `${name}-b`)];
  const codes = await Promise.all(
    runDirs.map((runDir) =>
      main(['train', '--config', example, '--run-dir', runDir, '--data', demo, ...flags]),
    ),
  );
  expect(stderr.join('')).not.toMatch(/error/i);
  expect(codes).toEqual([0, 0]);
  const [a, b] = runDirs as [string, string];
  const metrics = await metricsWithoutTimes(a);
  expect(metrics.some((line) => line.includes('"stage":"rlpt"'))).toBe(true);
  expect(await metricsWithoutTimes(b)).toEqual(metrics);
  const written = await files(a);
  expect(await files(b)).toEqual(written);
  // config.json holds the run directory, metrics.jsonl (compared above) and trainer-state.json wall-clock
  // seconds; every other file must be byte for byte the same.
  const compared = written.filter(
    (file) => !['config.json', 'metrics.jsonl'].includes(file) && !file.endsWith('trainer-state.json'),
  );
  expect(compared.filter((file) => file.startsWith('samples/')).length).toBeGreaterThan(0);
  expect(compared.filter((file) => file.endsWith('model.safetensors')).length).toBeGreaterThan(1);
  for (const file of compared) {
    const [left, right] = await Promise.all([readFile(join(a, file)), readFile(join(b, file))]);
    expect(left.equals(right), `${file} differs between the two runs`).toBe(true);
  }
}

describe('rlpt train is reproducible', () => {
  // Cut down by flags only. Pretrain batches of 128 sequences (~3k tokens) are large enough for
  // onnxruntime's multi-threaded scatter-add to split the embedding gradient across threads.
  it('runs examples/train/run.yaml twice at once (fewer steps): identical metrics, rollouts and weights', async () => {
    await trainTwice('short', [
      '--checkpoint-every',
      '2',
      '--set',
      'stages.0.steps=6',
      '--set',
      'stages.0.batchSize=128',
      '--set',
      'stages.1.steps=2',
      '--set',
      'stages.2.steps=2',
      '--set',
      'stages.2.promptsPerStep=4',
      '--set',
      'eval.atStart=false',
      '--set',
      'eval.every=0',
      '--set',
      'eval.final=false',
    ]);
  }, 120_000);

  it.runIf(long)(
    'runs the full examples/train/run.yaml twice at once (RLPT_LONG_TESTS=1): identical metrics, rollouts and weights',
    async () => {
      await trainTwice('full', []);
    },
    3_600_000,
  );
});
