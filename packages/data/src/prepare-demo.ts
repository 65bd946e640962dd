import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InvalidArgumentError, type RlptEvent, type TaskKind } from '@rlpt/spec';
import { z } from 'zod';
import type { Split } from './buckets.js';
import {
  buildDemoCorpus,
  type DemoTarget,
  type DemoTemplate,
  demoTemplates,
  demoVocabulary,
} from './demo.js';
import { outputFormats } from './options.js';
import { writeFileAtomic } from './prepare.js';
import type { PrepareHooks } from './prepare.js';
import { assignTask, type PreparedSample, sampleSortKey } from './process.js';
import { createPromptRenderer, loadPromptSetup } from './render.js';
import { encodeLine, type ShardInfo, ShardWriter } from './writers.js';
import { whitespaceTokenCounter } from './tokenizer.js';
import { ConfigError } from '@rlpt/spec';

/** Options of {@link prepareDemo} (`rlpt prepare --demo`). */
export const prepareDemoOptionsSchema = z
  .object({
    out: z.string().min(1),
    cwd: z.string().optional(),
    seed: z.number().int().default(0),
    trainDocuments: z.number().int().positive().default(3000),
    heldOutDocuments: z.number().int().positive().default(600),
    templates: z
      .array(z.enum(demoTemplates as unknown as [DemoTemplate, ...DemoTemplate[]]))
      .min(1)
      .optional(),
    referenceSegments: z.number().int().positive().default(3),
    lambda: z.number().gt(0).default(0.5),
    tasks: z.enum(['mix', 'both', 'asr', 'msr']).default('mix'),
    preset: z.string().min(1).default('tiny'),
    formats: z.array(z.enum(outputFormats)).min(1).default(['samples']),
    shardSize: z.number().int().positive().default(100_000),
    dataSource: z.string().min(1).default('rlpt-demo'),
    ability: z.string().min(1).default('next-segment-reasoning'),
    inputKey: z.string().min(1).default('input'),
    labelKey: z.string().min(1).default('label'),
    overwrite: z.boolean().default(false),
  })
  .strict();

/** Options of {@link prepareDemo}; see the README for each. */
export type PrepareDemoOptions = z.input<typeof prepareDemoOptionsSchema>;

/** `stats.json` of a demo run. */
export interface DemoStats {
  version: 1;
  demo: true;
  seed: number;
  vocabulary: number;
  documents: { train: number; heldOut: number };
  /** Inferable targets per split; held-out targets whose context prefixes a training document are dropped. */
  targets: { train: number; heldOut: number; droppedHeldOut: number };
  samples: { total: number; train: number; validation: number; asr: number; msr: number };
  perTemplate: Record<string, { train: number; validation: number }>;
  outputs: ShardInfo[];
}

/**
 * Builds the demo corpus (`buildDemoCorpus`) and writes it the way `prepare` writes real corpora, so the
 * whole toolchain runs before any model exists: `corpus/train.jsonl` and `corpus/heldout.jsonl` (documents
 * with per-sentence `inferable` flags, for pretraining), `vocab.json` (the word-level vocabulary), the
 * samples of the inferable targets (train → `train`, held-out → `validation`) in the requested formats with
 * the `tiny` template preset, and `stats.json`. Targets whose following sentence does not exist are ASR.
 *
 * @throws ConfigError for invalid options; InvalidArgumentError when `out` holds a previous run and
 *   `overwrite` is not set.
 */
export async function prepareDemo(
  options: PrepareDemoOptions,
  hooks: PrepareHooks = {},
): Promise<{ outDir: string; stats: DemoStats }> {
  const parsed = prepareDemoOptionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new ConfigError({
      issues: parsed.error.issues.map((issue) => ({
        path: issue.path.map(String).join('.'),
        message: issue.message,
      })),
    });
  }
  const config = parsed.data;
  const emit = (event: RlptEvent) => hooks.onEvent?.(event);
  const outDir = resolve(config.cwd ?? process.cwd(), config.out);
  if (existsSync(join(outDir, 'stats.json'))) {
    if (!config.overwrite) {
      throw new InvalidArgumentError({
        argument: 'out',
        message: `${outDir} already holds a prepared data set; pass overwrite (--overwrite) to replace it or choose another folder.`,
      });
    }
  }
  for (const name of ['corpus', 'samples', 'verl', 'openrlhf', 'stats.json', 'vocab.json']) {
    rmSync(join(outDir, name), { recursive: true, force: true });
  }
  mkdirSync(join(outDir, 'corpus'), { recursive: true });

  const corpus = buildDemoCorpus({
    seed: config.seed,
    trainDocuments: config.trainDocuments,
    heldOutDocuments: config.heldOutDocuments,
    referenceSegments: config.referenceSegments,
    ...(config.templates ? { templates: config.templates } : {}),
  });
  const documentLines = (documents: typeof corpus.train) =>
    documents.map((document) => JSON.stringify(document)).join('\n') + (documents.length > 0 ? '\n' : '');
  writeFileAtomic(join(outDir, 'corpus/train.jsonl'), documentLines(corpus.train));
  writeFileAtomic(join(outDir, 'corpus/heldout.jsonl'), documentLines(corpus.heldOut));
  writeFileAtomic(join(outDir, 'vocab.json'), `${JSON.stringify(demoVocabulary)}\n`);

  const prompts = await loadPromptSetup({ preset: config.preset });
  const renderer = await createPromptRenderer(prompts, whitespaceTokenCounter);
  const count = whitespaceTokenCounter.count;
  const stats: DemoStats = {
    version: 1,
    demo: true,
    seed: config.seed,
    vocabulary: demoVocabulary.length,
    documents: { train: corpus.train.length, heldOut: corpus.heldOut.length },
    targets: {
      train: corpus.trainTargets.length,
      heldOut: corpus.heldOutTargets.length,
      droppedHeldOut: corpus.droppedHeldOutTargets,
    },
    samples: { total: 0, train: 0, validation: 0, asr: 0, msr: 0 },
    perTemplate: Object.fromEntries(
      config.templates?.map((t) => [t, { train: 0, validation: 0 }]) ??
        demoTemplates.map((t) => [t, { train: 0, validation: 0 }]),
    ),
    outputs: [],
  };
  const settings = {
    dataSource: config.dataSource,
    ability: config.ability,
    inputKey: config.inputKey,
    labelKey: config.labelKey,
  };
  const toSamples = (targets: DemoTarget[], split: Split): { key: string; sample: PreparedSample }[] =>
    targets.flatMap((target, ordinal) => {
      let tasks: TaskKind[] =
        config.tasks === 'both'
          ? ['asr', 'msr']
          : config.tasks === 'mix'
            ? [assignTask(target.id, config.lambda, config.seed)]
            : [config.tasks];
      if (target.next === '') tasks = ['asr'];
      return [...new Set(tasks)].map((task) => {
        const id = config.tasks === 'both' && target.next !== '' ? `${target.id}#${task}` : target.id;
        const prompt = renderer.render(task, target.context, target.next).prompt;
        const sample: PreparedSample = {
          id,
          task,
          prompt,
          context: target.context,
          target: target.target,
          next: target.next,
          reference: target.reference,
          source: `demo/${target.template}`,
          flags: ['inferable'],
          split,
          documentId: target.documentId,
          index: target.index,
          contextSegments: target.contextSegments,
          referenceSegments: target.referenceSegments,
          tokens: {
            prompt: count(prompt),
            context: count(target.context),
            target: count(target.target),
            reference: count(target.reference),
          },
        };
        stats.samples.total++;
        stats.samples[split]++;
        stats.samples[task]++;
        stats.perTemplate[target.template] ??= { train: 0, validation: 0 };
        stats.perTemplate[target.template]![split]++;
        return { key: sampleSortKey(id, config.seed, ordinal, target.index, task), sample };
      });
    });
  const shards: ShardInfo[] = [];
  for (const [split, targets] of [
    ['train', corpus.trainTargets],
    ['validation', corpus.heldOutTargets],
  ] as const) {
    const samples = toSamples(targets, split).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const writers = config.formats.map(
      (format) =>
        new ShardWriter(outDir, format, split, config.shardSize, settings, new Set(), (shard) =>
          shards.push(shard),
        ),
    );
    for (const { sample } of samples) {
      for (const [position, format] of config.formats.entries()) {
        writers[position]!.add(
          format === 'verl' ? { sample } : { line: encodeLine(format, sample, settings) },
        );
      }
    }
    for (const writer of writers) writer.finish();
    emit({
      type: 'progress',
      phase: 'write',
      done: stats.samples.total,
      total: stats.samples.total,
      unit: 'samples',
    });
  }
  const order = (shard: ShardInfo) =>
    `${shard.format}/${shard.split === 'train' ? 0 : 1}/${String(shard.index).padStart(8, '0')}`;
  stats.outputs = shards.sort((a, b) => (order(a) < order(b) ? -1 : 1));
  writeFileAtomic(join(outDir, 'stats.json'), `${JSON.stringify(stats, null, 2)}\n`);
  return { outDir, stats };
}
