// judge.type rpt: next-token samples are read and rewarded by RPT's exact-prefix judge over the model's
// token boundaries; other judges skip them with a message that names judge.type rpt.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RlptEvent } from '@rlpt/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveTrainConfig } from './config.js';
import { runTraining } from './run.js';

let root: string;
let data: string;

const documents = [
  'Today is Monday . Tomorrow is Tuesday .',
  'Today is Friday . Tomorrow is Saturday .',
  'One plus one is two . Two plus one is three .',
  'Every cat is an animal . Tom is a cat . So Tom is an animal .',
];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rlpt-recipes-rpt-'));
  data = join(root, 'data');
  await mkdir(join(data, 'samples'), { recursive: true });
  // Next-token samples as rlpt prepare --tasks next-token writes them: the target is the next token (with
  // its leading space), the reference the continuation.
  const lines = (split: string) =>
    documents.flatMap((text, doc) => {
      const words = text.split(' ');
      return [3, 5].map((cut) => ({
        id: `${split}:${doc}:t${cut}`,
        task: 'next-token',
        prompt: `Predict the next word as <|startofprediction|> word <|endofprediction|> .\n${words.slice(0, cut).join(' ')}`,
        context: words.slice(0, cut).join(' '),
        target: ` ${words[cut]}`,
        reference: ` ${words.slice(cut).join(' ')}`,
      }));
    });
  const asr = { id: 'asr-1', task: 'asr', prompt: 'Today is Monday .', target: 'Tomorrow is Tuesday .' };
  await writeFile(
    join(data, 'samples', 'train-00000.jsonl'),
    `${[...lines('train'), asr].map((line) => JSON.stringify(line)).join('\n')}\n`,
  );
  await writeFile(
    join(data, 'samples', 'validation-00000.jsonl'),
    `${lines('validation')
      .map((line) => JSON.stringify(line))
      .join('\n')}\n`,
  );
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const raw = (runDir: string, judge: Record<string, unknown>) => ({
  runDir,
  seed: 1,
  threads: 1,
  model: { init: { hiddenSize: 32, layers: 1, heads: 2, kvHeads: 1, seed: 2 } },
  judge,
  data: { path: data },
  stages: [
    { type: 'sft', steps: 30, batchSize: 8, learningRate: 1e-2, schedule: 'constant' },
    { type: 'rlpt', steps: 3, promptsPerStep: 4, rolloutsPerPrompt: 4, maxTokens: 6, samplesEvery: 1 },
  ],
  eval: { items: 8, n: 2, maxTokens: 6, every: 0 },
});

describe('rlpt train with judge.type rpt', () => {
  it('trains next-token samples with the RPT reward over the model tokenizer', {
    timeout: 120_000,
  }, async () => {
    const lines: string[] = [];
    const runDir = join(root, 'rpt');
    const outcome = await runTraining(
      await resolveTrainConfig(raw(runDir, { type: 'rpt' }), { source: 'test' }),
      { onInfo: (line) => lines.push(line) },
    );
    expect(outcome.data).toMatchObject({ trainSamples: 9, asr: 1, msr: 0, nextToken: 8, heldOut: 8 });
    expect(lines.join('\n')).toContain('ASR 1, MSR 0, next-token 8');
    const rows = (await readFile(join(runDir, 'metrics.jsonl'), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const rl = rows.filter((row) => row.stage === 'rlpt');
    expect(rl).toHaveLength(3);
    // Per-task metrics name the next-token task; verdicts are RPT's (byte and token counts in `raw`).
    expect(rl.some((row) => 'reward.next-token' in row)).toBe(true);
    const verdicts = (await readFile(join(runDir, 'samples', 'rlpt-step-1.jsonl'), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => (JSON.parse(line) as { verdict: { raw?: string; reason?: string } | null }).verdict)
      .filter((verdict) => verdict !== null);
    expect(verdicts.length).toBeGreaterThan(0);
    for (const verdict of verdicts)
      expect(verdict!.raw ?? verdict!.reason).toMatch(/bytes=|not-prefix|empty/);
    expect(outcome.evaluations).toHaveLength(1);
  });

  it('other judges skip next-token lines and say which judge reads them', { timeout: 120_000 }, async () => {
    const events: RlptEvent[] = [];
    const config = await resolveTrainConfig(raw(join(root, 'lexical'), { type: 'lexical', minWords: 1 }), {
      source: 'test',
    });
    // Only the ASR line is left to train on; evaluation has no samples at all.
    const error = await runTraining(
      { ...config, eval: undefined },
      { onEvent: (event) => events.push(event) },
    ).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeUndefined();
    const skipped = events.filter((event) => event.type === 'skipped-input') as { message: string }[];
    expect(skipped).toHaveLength(8);
    expect(skipped[0]!.message).toContain(
      `task must be "asr" or "msr", got "next-token" (next-token samples are RPT's task: train them with judge.type rpt)`,
    );
  });
});
