// An rlp stage in a run config: the learner keeps an EMA teacher, the tiny model gets the thought markers as
// tokens, next-token and next-segment samples become contexts with their continuations.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@rlpt/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveTrainConfig } from './config.js';
import { runTraining } from './run.js';

let root: string;
let data: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rlpt-recipes-rlp-'));
  data = join(root, 'data');
  await mkdir(join(data, 'samples'), { recursive: true });
  await mkdir(join(data, 'corpus'), { recursive: true });
  const documents = [
    'Today is Monday . Tomorrow is Tuesday . Then it is Wednesday .',
    'One plus one is two . Two plus one is three . Three plus one is four .',
    'Every cat is an animal . Tom is a cat . So Tom is an animal .',
  ];
  await writeFile(
    join(data, 'corpus', 'train.jsonl'),
    `${documents.map((text, index) => JSON.stringify({ id: `d${index}`, text })).join('\n')}\n`,
  );
  const samples = documents.flatMap((text, index) => {
    const sentences = text.split(' . ').map((sentence) => sentence.replace(/ \.$/, ''));
    return [
      {
        id: `d${index}:asr`,
        task: 'asr',
        prompt: `${sentences[0]} .`,
        context: `${sentences[0]} .`,
        target: `${sentences[1]} .`,
        reference: `${sentences[1]} . ${sentences[2]}`,
      },
      {
        id: `d${index}:t`,
        task: 'next-token',
        prompt: `${sentences[0]} . ${sentences[1]}`,
        context: `${sentences[0]} . ${sentences[1]}`,
        target: ' .',
        reference: ` . ${sentences[2]}`,
      },
    ];
  });
  await writeFile(
    join(data, 'samples', 'train-00000.jsonl'),
    `${samples.map((sample) => JSON.stringify(sample)).join('\n')}\n`,
  );
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const raw = (runDir: string, extra: Record<string, unknown> = {}) => ({
  runDir,
  seed: 3,
  threads: 1,
  checkpointEvery: 2,
  model: { init: { hiddenSize: 32, layers: 1, heads: 2, kvHeads: 1, seed: 1 } },
  data: { path: data },
  stages: [
    { type: 'pretrain', steps: 10, batchSize: 3, learningRate: 1e-2 },
    {
      type: 'rlp',
      steps: 2,
      promptsPerStep: 3,
      thoughtsPerPrompt: 3,
      thoughtTokens: 4,
      learningRate: 1e-3,
      emaDecay: 0.5,
      samplesEvery: 1,
    },
  ],
  ...extra,
});

describe('rlpt train with an rlp stage', () => {
  it('trains thoughts against the EMA teacher and checkpoints the teacher', {
    timeout: 120_000,
  }, async () => {
    const runDir = join(root, 'run');
    const outcome = await runTraining(await resolveTrainConfig(raw(runDir), { source: 'test' }));
    expect(outcome.stages.map((stage) => stage.type)).toEqual(['pretrain', 'rlp']);
    expect(outcome.data).toMatchObject({ asr: 3, nextToken: 3 });
    const tokenizer = JSON.parse(await readFile(join(runDir, 'init-model', 'tokenizer.json'), 'utf8'));
    const added = (tokenizer.added_tokens as { content: string }[]).map((token) => token.content);
    expect(added).toEqual(expect.arrayContaining(['<think>', '</think>']));
    const rows = (await readFile(join(runDir, 'metrics.jsonl'), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, number | string>);
    const rlp = rows.filter((row) => row.stage === 'rlp');
    expect(rlp).toHaveLength(2);
    for (const key of ['reward.mean', 'rlp.policyLogLikelihood', 'rlp.teacherLogLikelihood', 'scoredTokens'])
      expect(typeof rlp[0]![key]).toBe('number');
    const checkpoints = await readdir(join(runDir, 'checkpoints'));
    const last = checkpoints.sort().at(-1)!;
    expect(await readdir(join(runDir, 'checkpoints', last, 'learner'))).toContain('teacher.safetensors');
  });

  it('refuses an rlp stage with a tinker learner and rlp stages with different decays', async () => {
    const twoRlp = raw(join(root, 'bad'));
    (twoRlp.stages as Record<string, unknown>[]).push({
      ...(twoRlp.stages[1] as object),
      name: 'rlp-2',
      emaDecay: 0.9,
    });
    const error = await resolveTrainConfig(
      {
        ...twoRlp,
        model: { dir: join(root, 'run', 'init-model') },
        learner: { backend: 'tinker:http://127.0.0.1:1', baseModel: 'x' },
        policy: 'tinker:http://127.0.0.1:1',
      },
      { source: 'test' },
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    const text = (error as ConfigError).issues.map((issue) => `${issue.path}: ${issue.message}`).join('\n');
    expect(text).toContain('stages: rlp stages share the learner');
    expect(text).toContain('learner: rlp stages need the EMA teacher of the in-process learner');
  });
});
