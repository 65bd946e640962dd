import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { prepareDemo } from '@rlpt/data';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../main.js';
import { captureOutput, useTempDirs } from '../testing.js';

const { stderr } = captureOutput();
const makeTempDir = useTempDirs();
let dir: string;
let demo: string;

beforeAll(async () => {
  dir = await makeTempDir('rlpt-cli-final-eval-');
  demo = join(dir, 'demo');
  await prepareDemo({ out: demo, trainDocuments: 60, heldOutDocuments: 20, seed: 3 });
});

describe('rlpt train: one final evaluation', () => {
  it('does not evaluate the same final weights twice when the last RL step was just evaluated', {
    timeout: 120_000,
  }, async () => {
    const runDir = join(dir, 'run');
    const config = join(dir, 'run.yaml');
    // RL steps a multiple of eval.every: the evaluation after step 2 is of the final weights.
    await writeFile(
      config,
      `runDir: ${runDir}
seed: 1
threads: 1
model:
  init: { hiddenSize: 16, layers: 1, heads: 2, kvHeads: 1, maxPositionEmbeddings: 128 }
data:
  path: ${demo}
stages:
  - type: rlpt
    steps: 2
    promptsPerStep: 2
    rolloutsPerPrompt: 2
    maxTokens: 6
    learningRate: 0.0001
eval:
  items: 3
  every: 2
  n: 2
`,
    );
    expect(await main(['train', '--config', config])).toBe(0);
    expect(stderr.join('')).not.toMatch(/error/);
    const stages = (await readFile(join(runDir, 'metrics.jsonl'), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => String(JSON.parse(line).stage))
      .filter((stage) => stage.startsWith('eval:'));
    expect(stages).toEqual(['eval:rlpt@2']);
  });
});
