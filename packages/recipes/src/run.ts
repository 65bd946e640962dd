/**
 * What `rlpt train` runs once its configuration is valid: read the data, build (or load) the model, the
 * learner, the policy backend and the judges, then hand them to `@rlpt/trainer`'s `Trainer`, stage by
 * stage. Packages are imported lazily, inside `runTraining`.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  type ClosableJudge,
  createBackendFromSpec,
  createJudgeFromSpec,
  type InferenceBackendV1,
  type JudgeV1,
  InvalidArgumentError,
  type LearnerV1,
  InvalidInputError,
  type Logger,
  type RlptEvent,
  silentLogger,
} from '@rlpt/spec';
import type { SampleRecord as DataSampleRecord } from '@rlpt/data';
import { PREDICTION_END, PREDICTION_START } from '@rlpt/prompts';
import type {
  EvaluateOptions,
  RlItem,
  RlpItem,
  SftExample,
  StageSummary,
  TokenizerLike,
} from '@rlpt/trainer';
import { nextSegmentItem, rlpItem as rlpItemOf, goldExample as trainerGoldExample } from '@rlpt/trainer';
import { loadOptionalPeer, registerBuiltins } from './builtins.js';
import { grpoOf, type ResolvedTrainConfig, type RlpStageConfig, type RlStageConfig } from './config.js';

/** One line of `rlpt prepare`'s samples JSONL, the fields training reads (`@rlpt/data`'s). */
export type SampleRecord = DataSampleRecord;

/** What was read, for the start-of-run summary. */
export interface DataSummary {
  trainSamples: number;
  asr: number;
  msr: number;
  /** Next-token samples (read with judge.type rpt only). */
  nextToken?: number;
  heldOut: number;
  skipped: number;
  /** Skipped lines by reason. */
  skippedByReason: Record<string, number>;
}

export interface TrainHooks {
  onEvent?: (event: RlptEvent) => void;
  logger?: Logger;
  signal?: AbortSignal;
  /** Lines worth telling the user before training starts (data read, model, notes). */
  onInfo?: (line: string) => void;
  /**
   * Parts composed in code that replace what the config would build: your own judge (any `JudgeV1`, e.g.
   * from `defineJudge`) instead of `config.judge`, and your own policy loader (any `InferenceBackendV1` over
   * an exported weights folder) instead of `config.policy`. You keep ownership: they are not closed.
   */
  parts?: {
    judge?: JudgeV1;
    loadPolicy?: (modelDir: string) => Promise<InferenceBackendV1>;
  };
}

export interface StageOutcome {
  name: string;
  type: string;
  summary: StageSummary;
}

/** One held-out evaluation of the run, in training order. */
export interface EvaluationOutcome {
  name: string;
  tokensSeen: number;
  pass1: number;
  /** Unbiased pass@k by k. */
  passAtK: Record<string, number>;
  greedy?: number;
}

export interface TrainOutcome {
  runDir: string;
  stages: StageOutcome[];
  evaluations: EvaluationOutcome[];
  data: DataSummary;
  seconds: number;
}

type Skip = (reason: string, message: string, file: string, line: number) => void;

/** Reads a JSONL file line by line; bad lines are reported through `skip` and left out. */
async function* jsonLines(
  file: string,
  skip: Skip,
): AsyncGenerator<{ value: Record<string, unknown>; line: number }> {
  const lines = createInterface({
    input: createReadStream(file, { encoding: 'utf8' }),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let line = 0;
  for await (const text of lines) {
    line++;
    if (!text.trim()) continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      skip('malformed-json', `${file}:${line}: not valid JSON (${(error as Error).message})`, file, line);
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      skip('not-an-object', `${file}:${line}: expected a JSON object`, file, line);
      continue;
    }
    yield { value: value as Record<string, unknown>, line };
  }
}

/** `samples/<split>-*.jsonl` of a prepare folder, or the file itself (`@rlpt/data`'s reader). */
export async function sampleFiles(path: string, split: string): Promise<string[]> {
  return (await import('@rlpt/data')).sampleFiles(path, split);
}

/**
 * Reads samples with `@rlpt/data`'s reader, the one parser of what `rlpt prepare` writes: next-segment
 * (ASR, MSR) by default, next-token too when `tasks` says so (RPT); lines without a prompt or target, or
 * of another task, are skipped and counted.
 */
export async function readSamples(
  files: string[],
  skip: Skip,
  limit = Number.POSITIVE_INFINITY,
  tasks: readonly SampleRecord['task'][] = ['asr', 'msr'],
): Promise<SampleRecord[]> {
  return (await import('@rlpt/data')).readSamples(files, {
    limit,
    tasks,
    onSkip: ({ reason, message, file, line, task }) =>
      skip(
        reason,
        task === 'next-token'
          ? `${message} (next-token samples are RPT's task: train them with judge.type rpt)`
          : message,
        file,
        line,
      ),
  });
}

/** Pretraining documents: `.txt` (blank-line separated) or JSONL (`textField`, else joined `sentences`). */
export async function readDocuments(file: string, textField: string, skip: Skip): Promise<string[]> {
  if (extname(file).toLowerCase() !== '.jsonl') {
    return (await readFile(file, 'utf8'))
      .split(/\r?\n\s*\r?\n/)
      .map((document) => document.trim())
      .filter(Boolean);
  }
  const documents: string[] = [];
  for await (const { value, line } of jsonLines(file, skip)) {
    const text = value[textField];
    if (typeof text === 'string' && text.trim()) documents.push(text);
    else if (Array.isArray(value.sentences)) {
      documents.push(
        value.sentences
          .map((sentence) =>
            typeof sentence === 'string' ? sentence : String((sentence as { text?: unknown }).text ?? ''),
          )
          .join(' '),
      );
    } else
      skip('missing-field', `${file}:${line}: a document needs a string "${textField}" field`, file, line);
  }
  return documents;
}

export async function readSftExamples(file: string, skip: Skip): Promise<SftExample[]> {
  const examples: SftExample[] = [];
  for await (const { value, line } of jsonLines(file, skip)) {
    if (typeof value.prompt !== 'string' || typeof value.completion !== 'string' || !value.prompt) {
      skip(
        'missing-field',
        `${file}:${line}: an SFT example needs string "prompt" and "completion" fields`,
        file,
        line,
      );
      continue;
    }
    examples.push({
      id: typeof value.id === 'string' ? value.id : `${basename(file)}:${line}`,
      prompt: value.prompt,
      completion: value.completion,
    });
  }
  return examples;
}

/** RLVR items: a prompt and a gold answer, judged on the whole response. */
export async function readRlvrItems(stage: RlStageConfig, file: string, skip: Skip): Promise<RlItem[]> {
  const items: RlItem[] = [];
  for await (const { value, line } of jsonLines(file, skip)) {
    const prompt = value[stage.promptField];
    const answer = value[stage.answerField];
    if (typeof prompt !== 'string' || !prompt || (typeof answer !== 'string' && typeof answer !== 'number')) {
      skip(
        'missing-field',
        `${file}:${line}: an RLVR item needs "${stage.promptField}" (string) and "${stage.answerField}" fields`,
        file,
        line,
      );
      continue;
    }
    items.push({
      id: typeof value.id === 'string' ? value.id : `${basename(file)}:${line}`,
      prompt,
      task: 'rlvr',
      toJudgeItem: (prediction) => ({ prediction, reference: String(answer) }),
    });
  }
  return items;
}

/** An RL item for a next-segment sample, judged against the prefix window (or s_i in strict mode). */
export function sampleItem(sample: SampleRecord, mode: 'prefix' | 'strict'): RlItem {
  return nextSegmentItem(sample, mode);
}

/** The cold-start example of a sample: its prompt and the gold prediction in the tags. */
export function goldExample(sample: SampleRecord): SftExample {
  return trainerGoldExample(sample);
}

/** Words of a word-level vocabulary: split like the tokenizer's Whitespace pre-tokenizer, tags removed. */
function wordsOf(texts: Iterable<string>): string[] {
  const words = new Set<string>();
  for (const text of texts) {
    const cleaned = text
      .replaceAll(PREDICTION_START, ' ')
      .replaceAll(PREDICTION_END, ' ')
      .replaceAll('<MASK>', ' ');
    for (const word of cleaned.match(/\w+|[^\w\s]+/g) ?? []) words.add(word);
  }
  return [...words].sort();
}

/** The trainer's tokenizer over a model folder (no special tokens added; BOS/EOS from tokenizer_config). */
async function folderTokenizer(modelDir: string): Promise<TokenizerLike> {
  const { loadTextTokenizer } = await import('@rlpt/model');
  return loadTextTokenizer(modelDir);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Builds the RLPT judge the configuration describes (through the registry); `close` releases its backend too. */
async function createJudge(
  config: ResolvedTrainConfig,
  modelDir: string,
  logger: Logger,
  onEvent: (event: RlptEvent) => void,
): Promise<ClosableJudge> {
  const { type, backend, tokenizer, whitespace, ...settings } = config.judge;
  if (type === 'rpt') {
    // Token boundaries of the policy's own tokenizer unless another is named.
    return createJudgeFromSpec(`rpt:${tokenizer ?? modelDir}`, {
      mode: settings.mode,
      ...(whitespace ? { rptWhitespace: whitespace } : {}),
      logger,
      onEvent,
    });
  }
  return createJudgeFromSpec(type === 'lexical' ? 'lexical' : `generative:${backend!}`, {
    ...Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined)),
    logger,
    onEvent,
  });
}

/** Runs the configured stages; resumes from the run directory's latest checkpoint with `resume`. */
export async function runTraining(
  config: ResolvedTrainConfig,
  hooks: TrainHooks = {},
): Promise<TrainOutcome> {
  registerBuiltins();
  const started = performance.now();
  const logger = hooks.logger ?? silentLogger;
  const onEvent = hooks.onEvent ?? (() => {});
  const info = hooks.onInfo ?? (() => {});
  const { runDir } = config;
  if (
    !config.resume &&
    ((await exists(join(runDir, 'metrics.jsonl'))) || (await exists(join(runDir, 'checkpoints'))))
  ) {
    throw new InvalidArgumentError({
      argument: 'runDir',
      message: `Run directory ${runDir} already holds a run. Continue it with --resume, or choose a new --run-dir.`,
    });
  }

  // 1. Data. Bad lines are counted, reported and skipped; everything is read before training starts.
  const skippedByReason: Record<string, number> = {};
  let skipped = 0;
  const skip: Skip = (reason, message, file, line) => {
    skipped++;
    skippedByReason[reason] = (skippedByReason[reason] ?? 0) + 1;
    onEvent({ type: 'skipped-input', reason, message, file, line });
  };
  const mode = config.judge.mode;
  // RPT's reward also trains next-token samples (rlpt prepare --tasks next-token); the other judges read ASR/MSR.
  const rlpStages = config.stages.filter((stage) => stage.type === 'rlp');
  const tasks: SampleRecord['task'][] =
    config.judge.type === 'rpt' || rlpStages.length > 0 ? ['asr', 'msr', 'next-token'] : ['asr', 'msr'];
  const needsSamples = config.stages.some(
    (stage) => (stage.type === 'rlpt' || stage.type === 'sft' || stage.type === 'rlp') && !stage.data,
  );
  const train =
    needsSamples && config.data.path
      ? await readSamples(
          await sampleFiles(config.data.path, config.data.split),
          skip,
          config.data.limit,
          tasks,
        )
      : [];
  const heldOutPath = config.data.heldOut ?? config.data.path;
  const heldOut =
    config.eval && heldOutPath
      ? await readSamples(await sampleFiles(heldOutPath, 'validation'), skip, config.eval.items, tasks)
      : [];
  const stageData = new Map<
    string,
    {
      documents?: string[];
      examples?: SftExample[];
      items?: RlItem[];
      samples?: SampleRecord[];
      rlpItems?: RlpItem[];
    }
  >();
  for (const stage of config.stages) {
    if (stage.type === 'pretrain') {
      const file = stage.data ?? join(config.data.path!, 'corpus', 'train.jsonl');
      stageData.set(stage.name, { documents: await readDocuments(file, stage.textField, skip) });
    } else if (stage.type === 'sft') {
      stageData.set(stage.name, {
        examples: stage.data ? await readSftExamples(stage.data, skip) : train.map(goldExample),
      });
    } else if (stage.type === 'rlvr') {
      stageData.set(stage.name, { items: await readRlvrItems(stage, stage.data!, skip) });
    } else if (stage.type === 'rlp') {
      const samples = stage.data
        ? await readSamples(await sampleFiles(stage.data, config.data.split), skip, config.data.limit, tasks)
        : train;
      // Contexts with a continuation; samples without either are skipped and counted.
      const usable = samples.filter((sample) => {
        if (sample.context && sample.reference) return true;
        skip(
          'missing-field',
          `sample ${sample.id}: RLP needs a context and a reference (the continuation)`,
          '',
          0,
        );
        return false;
      });
      stageData.set(stage.name, { rlpItems: usable.map((sample) => rlpItemOf(sample)) });
    } else {
      const samples = stage.data
        ? await readSamples(await sampleFiles(stage.data, config.data.split), skip, config.data.limit, tasks)
        : train;
      stageData.set(stage.name, { samples, items: samples.map((sample) => sampleItem(sample, mode)) });
    }
  }
  for (const stage of config.stages) {
    const data = stageData.get(stage.name)!;
    const size =
      data.documents?.length ?? data.examples?.length ?? data.items?.length ?? data.rlpItems?.length ?? 0;
    if (size === 0) {
      throw new InvalidInputError({
        reason: 'no-data',
        message: `Stage ${stage.name} has no usable ${stage.type === 'pretrain' ? 'documents' : stage.type === 'sft' ? 'examples' : 'prompts'}${skipped ? ` (${skipped} input lines were skipped; see the warnings above)` : ''}.`,
      });
    }
  }
  const count = (task: SampleRecord['task']) => train.filter((sample) => sample.task === task).length;
  const data: DataSummary = {
    trainSamples: train.length,
    asr: count('asr'),
    msr: count('msr'),
    ...(tasks.includes('next-token') ? { nextToken: count('next-token') } : {}),
    heldOut: heldOut.length,
    skipped,
    skippedByReason,
  };
  if (train.length > 0) {
    // λ mixing happened in rlpt prepare: batches draw uniformly, so they carry the file's task share.
    const kinds = `ASR ${data.asr}, MSR ${data.msr}${data.nextToken ? `, next-token ${data.nextToken}` : ''}`;
    info(
      `data: ${train.length} training samples (${kinds}: ${((100 * data.msr) / train.length).toFixed(1)}% MSR per batch on average)${heldOut.length ? `, ${heldOut.length} held-out` : ''}${skipped ? `, ${skipped} lines skipped` : ''}`,
    );
  }

  // 2. Model: a folder, or a tiny model built once in the run directory.
  const [model, learnerPackage, trainerPackage] = await Promise.all([
    import('@rlpt/model'),
    import('@rlpt/learner-onnx'),
    import('@rlpt/trainer'),
  ]);
  let modelDir = config.model.dir;
  if (!modelDir) {
    const init = config.model.init!;
    modelDir = join(runDir, 'init-model');
    if (!(config.resume && (await exists(join(modelDir, 'config.json'))))) {
      const texts = function* () {
        for (const sample of [...train, ...heldOut]) yield* [sample.prompt, sample.reference, sample.target];
        for (const entry of stageData.values()) {
          yield* entry.documents ?? [];
          for (const example of entry.examples ?? []) yield* [example.prompt, example.completion];
          for (const item of entry.items ?? []) yield item.prompt;
        }
      };
      const tokenizer =
        init.tokenizer === 'words'
          ? {
              words: wordsOf(texts()),
              addedTokens: [
                PREDICTION_START,
                PREDICTION_END,
                '<MASK>',
                // RLP's thought markers, as single tokens.
                ...new Set(
                  rlpStages.flatMap((stage) => [
                    (stage as RlpStageConfig).thinkOpen,
                    (stage as RlpStageConfig).thinkClose,
                  ]),
                ),
              ],
            }
          : init.tokenizer;
      const tiny = await model.createTinyModel({
        dir: modelDir,
        tokenizer,
        architecture: init.architecture,
        hiddenSize: init.hiddenSize,
        layers: init.layers,
        heads: init.heads,
        kvHeads: init.kvHeads,
        ...(init.intermediateSize ? { intermediateSize: init.intermediateSize } : {}),
        maxPositionEmbeddings: init.maxPositionEmbeddings,
        tieWordEmbeddings: init.tieWordEmbeddings,
        std: init.std,
        seed: init.seed ?? config.seed,
        overwrite: true,
      });
      info(
        `model: a new ${model.countParameters(tiny.config).toLocaleString('en-US')}-parameter ${init.architecture} (vocabulary ${tiny.config.vocabSize}) in ${modelDir}`,
      );
    }
  }
  const tokenizer = await folderTokenizer(modelDir);

  // 3. Learner, policy backend and judges.
  const learner = config.learner.backend.startsWith('tinker:')
    ? await tinkerLearner(config, logger, info)
    : await learnerPackage.createOnnxLearner({
        modelDir,
        // One learner thread unless --fast: onnxruntime's multi-threaded ScatterND (reduction add, the
        // embedding gradient) sums duplicate token rows in a load-dependent order, so runs would diverge.
        threads: config.fast ? config.threads : 1,
        maxGradNorm: config.model.maxGradNorm,
        seed: config.seed,
        // RLP's no-think baseline: an EMA teacher kept by the learner.
        ...(rlpStages.length > 0 ? { ema: { decay: (rlpStages[0] as RlpStageConfig).emaDecay } } : {}),
        ...(config.model.adam ? { adam: config.model.adam } : {}),
        ...(config.model.microBatchTokens ? { microBatchTokens: config.model.microBatchTokens } : {}),
        ...(config.model.threadSpinning !== undefined ? { threadSpinning: config.model.threadSpinning } : {}),
        ...(config.model.executionProviders ? { executionProviders: config.model.executionProviders } : {}),
        logger,
        onEvent,
      });
  const closers: (() => Promise<void>)[] = [async () => learner.close?.()];
  try {
    let loadPolicy: (dir: string) => Promise<InferenceBackendV1>;
    const policy = config.policy;
    if (hooks.parts?.loadPolicy) {
      loadPolicy = hooks.parts.loadPolicy;
    } else if (policy.backend === 'onnx') {
      // Rollouts from the learner's own weights: a fresh onnx backend over each exported folder.
      loadPolicy = async (dir) =>
        createBackendFromSpec(`onnx:${dir}`, {
          threads: policy.threads ?? config.threads,
          ...(policy.maxBatchSize ? { maxBatchSize: policy.maxBatchSize } : {}),
          logger,
          onEvent,
        });
    } else {
      const tinker = policy.backend.startsWith('tinker:');
      const backend = await createBackendFromSpec(
        policy.backend,
        tinker
          ? {
              // Sampling follows the sampler weights the tinker learner saves after every update.
              baseModel: policy.model ?? config.learner.baseModel,
              tokenizerDir: modelDir,
              apiKeyEnv: config.learner.apiKeyEnv,
              logger,
            }
          : { model: policy.model, apiKeyEnv: policy.apiKeyEnv, server: policy.server, logger },
      );
      closers.push(async () => backend.close?.());
      // One client for the whole run: the trainer closes a policy when it reloads one, and a served policy
      // is never reloaded (its weights are pushed, or stay); it closes at the end.
      const shared: InferenceBackendV1 = {
        specificationVersion: 'v1',
        provider: backend.provider,
        modelId: backend.modelId,
        capabilities: backend.capabilities,
        generate: (request, options) => backend.generate(request, options),
      };
      const updateWeights = backend.updateWeights?.bind(backend);
      if (!policy.offPolicy && updateWeights) {
        // On-policy: the trainer pushes every update's weights to the server before the next rollouts.
        shared.updateWeights = updateWeights;
        info(
          tinker
            ? `policy: ${policy.backend} (${policy.model ?? config.learner.baseModel}); it samples the weights the learner saves after every update (save_weights_for_sampler)`
            : `policy: ${policy.backend} (${policy.model}); the learner's weights are pushed to it after every update (POST /update_weights_from_disk)`,
        );
      } else {
        info(
          `policy: ${policy.backend} (${policy.model}); its weights are not updated by rlpt (offPolicy), so updates after the first are off-policy`,
        );
      }
      loadPolicy = async () => shared;
    }
    let judge: JudgeV1;
    if (hooks.parts?.judge) {
      judge = hooks.parts.judge;
    } else {
      const built = await createJudge(config, modelDir, logger, onEvent);
      closers.push(async () => built.close?.());
      judge = built;
    }
    const needsMath = config.stages.some((stage) => stage.type === 'rlvr');
    const mathJudge = needsMath ? (await import('@rlpt/eval')).mathVerifierJudge() : undefined;

    const trainer = await trainerPackage.Trainer.create({
      runDir,
      learner,
      loadPolicy,
      tokenizer,
      seed: config.seed,
      resume: config.resume,
      checkpointEvery: config.checkpointEvery,
      config,
      logger,
      onEvent,
      ...(hooks.signal ? { signal: hooks.signal } : {}),
    });
    closers.push(() => trainer.close());

    // 4. Stages, in order; a resumed run skips the finished ones (the trainer remembers them).
    const evalConfig = config.eval;
    const firstRl = config.stages.find((stage) => stage.type === 'rlpt' || stage.type === 'rlvr') as
      | RlStageConfig
      | undefined;
    const evalItems = heldOut.map((sample) => sampleItem(sample, evalConfig?.mode ?? mode));
    const evalOptions = (name: string): EvaluateOptions => ({
      judge,
      n: evalConfig!.n,
      temperature: evalConfig!.temperature,
      ...(evalConfig!.topP !== undefined ? { topP: evalConfig!.topP } : {}),
      maxTokens: evalConfig!.maxTokens ?? firstRl?.maxTokens ?? 256,
      greedy: evalConfig!.greedy,
      name,
      maxJudgeFailureRate: config.judge.maxFailureRate,
    });
    const stages: StageOutcome[] = [];
    let evaluatedAtStart = false;
    for (const stage of config.stages) {
      const data = stageData.get(stage.name)!;
      const common = {
        steps: stage.steps,
        learningRate: stage.learningRate,
        schedule: stage.schedule,
        warmupSteps: stage.warmupSteps,
        minLearningRateRatio: stage.minLearningRateRatio,
        name: stage.name,
      };
      let summary: StageSummary;
      if (stage.type === 'pretrain') {
        summary = await trainer.pretrain(data.documents!, {
          ...common,
          batchSize: stage.batchSize,
          maxTokens: stage.maxTokens,
        });
      } else if (stage.type === 'sft') {
        summary = await trainer.sft(data.examples!, {
          ...common,
          batchSize: stage.batchSize,
          maxTokens: stage.maxTokens,
        });
      } else if (stage.type === 'rlp') {
        summary = await trainer.rlp(data.rlpItems!, {
          ...common,
          promptsPerStep: stage.promptsPerStep,
          thoughtsPerPrompt: stage.thoughtsPerPrompt,
          thoughtTokens: stage.thoughtTokens,
          temperature: stage.temperature,
          aggregate: stage.aggregate,
          thinkOpen: stage.thinkOpen,
          thinkClose: stage.thinkClose,
          grpo: grpoOf(stage),
          samplesEvery: stage.samplesEvery,
        });
      } else {
        if (evalConfig?.atStart && !evaluatedAtStart && evalItems.length) {
          await trainer.evaluate(evalItems, evalOptions('start'));
          evaluatedAtStart = true;
        }
        summary = await trainer.rl(data.items!, {
          ...common,
          promptsPerStep: stage.promptsPerStep,
          rolloutsPerPrompt: stage.rolloutsPerPrompt,
          temperature: stage.temperature,
          ...(stage.topP !== undefined ? { topP: stage.topP } : {}),
          ...(stage.topK !== undefined ? { topK: stage.topK } : {}),
          maxTokens: stage.maxTokens,
          judge: stage.type === 'rlvr' ? mathJudge! : judge,
          extract: stage.type === 'rlvr' ? 'full' : 'tags',
          grpo: grpoOf(stage),
          ...(stage.msrLossWeight !== undefined ? { msrLossWeight: stage.msrLossWeight } : {}),
          samplesEvery: stage.samplesEvery,
          maxJudgeFailureRate: config.judge.maxFailureRate,
          judgeFailureWindow: config.judge.failureWindow,
          ...(evalConfig && evalConfig.every > 0 && evalItems.length
            ? { evaluation: { every: evalConfig.every, items: evalItems, options: evalOptions(stage.name) } }
            : {}),
        });
      }
      stages.push({ name: stage.name, type: stage.type, summary });
    }
    // One final evaluation: when the last stage is RL and its last step was just evaluated (steps a multiple
    // of eval.every), that evaluation is of the final weights; another under the name `final` would report
    // a second number for the same model.
    const lastStage = config.stages.at(-1);
    const finalEvaluated =
      (lastStage?.type === 'rlpt' || lastStage?.type === 'rlvr') &&
      (evalConfig?.every ?? 0) > 0 &&
      lastStage.steps % evalConfig!.every === 0;
    if (evalConfig?.final && evalItems.length && !finalEvaluated)
      await trainer.evaluate(evalItems, evalOptions('final'));
    // Every evaluation (start, during RL stages, final) is a metrics line `eval:<name>`.
    const all: EvaluationOutcome[] = (await trainer.runDir.readMetrics())
      .filter((row) => String(row.stage).startsWith('eval:'))
      .map((row) => ({
        name: String(row.stage).slice('eval:'.length),
        tokensSeen: Number(row.tokensSeen),
        pass1: Number(row.pass1),
        passAtK: Object.fromEntries(
          Object.entries(row)
            .filter(([key]) => key.startsWith('pass@'))
            .map(([key, value]) => [key.slice('pass@'.length), Number(value)]),
        ),
        ...(typeof row.greedy === 'number' ? { greedy: row.greedy } : {}),
      }));
    return { runDir, stages, evaluations: all, data, seconds: (performance.now() - started) / 1000 };
  } finally {
    for (const close of closers.reverse()) await close().catch(() => {});
  }
}

/**
 * The `tinker:<URL>` learner (`@rlpt/learner-tinker`, an optional peer): Adam and clipping as the in-process
 * learner's (model.adam over PyTorch's defaults, model.maxGradNorm), so a run moved onto a Tinker server
 * keeps its arithmetic; the server's own defaults (β2 0.95, ε 1e-12, no clipping) are not used.
 */
async function tinkerLearner(
  config: ResolvedTrainConfig,
  logger: Logger,
  info: (line: string) => void,
): Promise<LearnerV1> {
  const { createTinkerLearner } = await loadOptionalPeer(
    '@rlpt/learner-tinker',
    () => import('@rlpt/learner-tinker'),
    config.learner.backend,
  );
  const { backend, baseModel, loraRank, apiKeyEnv, encoding, pipeline } = config.learner;
  const adam = config.model.adam ?? {};
  const learner = await createTinkerLearner({
    baseURL: backend.slice('tinker:'.length),
    baseModel: baseModel!,
    ...(loraRank !== undefined ? { loraRank } : {}),
    apiKeyEnv,
    encoding,
    pipeline,
    adam: {
      beta1: adam.beta1 ?? 0.9,
      beta2: adam.beta2 ?? 0.999,
      eps: adam.eps ?? 1e-8,
      weightDecay: adam.weightDecay ?? 0.01,
    },
    gradClipNorm: config.model.maxGradNorm,
    logger,
  });
  info(
    `learner: ${backend} (${baseModel}${loraRank !== undefined ? `, LoRA rank ${loraRank}` : ''}); forward_backward and optim_step run on the server`,
  );
  return learner;
}
