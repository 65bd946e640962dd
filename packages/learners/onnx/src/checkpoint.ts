import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  checkWeights,
  type DecoderConfig,
  decoderConfigToJson,
  type ParameterSpec,
  readSafetensors,
  type TensorData,
  type TokenizerFiles,
  type WeightMap,
  writeDirectoryAtomically,
  writeSafetensors,
} from '@rlpt/model';
import { ModelLoadError } from '@rlpt/spec';
import type { AdamWSettings } from './adamw.js';

/** `learner_state.json` of a checkpoint. */
export interface LearnerStateFile {
  format: 'rlpt-learner-onnx';
  version: 1;
  /** Optimizer steps taken. */
  step: number;
  adam: AdamWSettings;
  maxGradNorm: number | null;
  /** Present when the learner keeps an EMA teacher (`teacher.safetensors`): its decay and update count. */
  ema?: { decay: number; updates: number };
}

/** Tokenizer files worth copying next to weights (what `@rlpt/model`'s folder writer copies). */
export const tokenizerFileNames = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'vocab.json',
  'merges.txt',
  'added_tokens.json',
  'chat_template.jinja',
  'generation_config.json',
];

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Writes a file and fsyncs it, so a rename after it never exposes a half-written file. */
export async function writeFileSynced(path: string, data: string | Uint8Array): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Copies (or writes) tokenizer files into `dir`; returns the names written. */
export async function writeTokenizerFiles(
  dir: string,
  tokenizer: TokenizerFiles | { copyFrom: string } | undefined,
): Promise<string[]> {
  if (!tokenizer) return [];
  if ('copyFrom' in tokenizer) {
    const written: string[] = [];
    for (const name of tokenizerFileNames) {
      const source = join(tokenizer.copyFrom, name);
      if (!(await exists(source))) continue;
      await writeFileSynced(join(dir, name), await readFile(source));
      written.push(name);
    }
    return written;
  }
  await writeFileSynced(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer.tokenizer));
  await writeFileSynced(
    join(dir, 'tokenizer_config.json'),
    `${JSON.stringify(tokenizer.tokenizerConfig, null, 2)}\n`,
  );
  return ['tokenizer.json', 'tokenizer_config.json'];
}

/** What a checkpoint holds. */
export interface CheckpointContents {
  config: DecoderConfig;
  configJson: Record<string, unknown>;
  parameters: readonly ParameterSpec[];
  weights: WeightMap;
  m: WeightMap;
  v: WeightMap;
  /** The EMA teacher's weights, when the learner keeps one. */
  teacher?: WeightMap;
  state: LearnerStateFile;
  tokenizer: TokenizerFiles | { copyFrom: string } | undefined;
}

const momentSuffix = { m: '.exp_avg', v: '.exp_avg_sq' } as const;

/**
 * Writes a checkpoint folder atomically: `config.json`, `model.safetensors` (Hugging Face names),
 * `optimizer.safetensors` (`<name>.exp_avg`, `<name>.exp_avg_sq`, as PyTorch names AdamW state),
 * `learner_state.json` (step count and hyper-parameters) and the tokenizer files. The folder is also a
 * model folder `createOnnxLearner({ modelDir })` can start from.
 */
export async function writeCheckpoint(dir: string, contents: CheckpointContents): Promise<string> {
  return writeDirectoryAtomically(dir, async (temp) => {
    await writeFileSynced(
      join(temp, 'config.json'),
      `${JSON.stringify({ ...contents.configJson, ...decoderConfigToJson(contents.config) }, null, 2)}\n`,
    );
    await writeSafetensors(join(temp, 'model.safetensors'), contents.weights);
    const moments: WeightMap = new Map();
    for (const spec of contents.parameters) {
      moments.set(`${spec.name}${momentSuffix.m}`, contents.m.get(spec.name) as TensorData);
      moments.set(`${spec.name}${momentSuffix.v}`, contents.v.get(spec.name) as TensorData);
    }
    await writeSafetensors(join(temp, 'optimizer.safetensors'), moments, {
      format: 'pt',
      optimizer: 'adamw',
      step: String(contents.state.step),
    });
    if (contents.teacher) await writeSafetensors(join(temp, 'teacher.safetensors'), contents.teacher);
    await writeTokenizerFiles(temp, contents.tokenizer);
    await writeFileSynced(join(temp, 'learner_state.json'), `${JSON.stringify(contents.state, null, 2)}\n`);
  });
}

/** Reads what {@link writeCheckpoint} wrote, validated against `config`. */
export async function readCheckpoint(
  dir: string,
  config: DecoderConfig,
  parameters: readonly ParameterSpec[],
): Promise<{ weights: WeightMap; m: WeightMap; v: WeightMap; teacher?: WeightMap; state: LearnerStateFile }> {
  const statePath = join(dir, 'learner_state.json');
  let state: LearnerStateFile;
  try {
    state = JSON.parse(await readFile(statePath, 'utf8')) as LearnerStateFile;
  } catch (error) {
    throw new ModelLoadError({
      path: statePath,
      message: `Cannot read ${statePath}: is ${dir} a checkpoint written by OnnxLearner.save()? (${(error as Error).message})`,
      cause: error,
    });
  }
  if (
    state?.format !== 'rlpt-learner-onnx' ||
    state.version !== 1 ||
    !Number.isInteger(state.step) ||
    state.step < 0
  ) {
    throw new ModelLoadError({
      path: statePath,
      message: `${statePath} is not a learner-onnx v1 state file (format, version and a non-negative integer step are required).`,
    });
  }
  const weightsPath = join(dir, 'model.safetensors');
  const weights = checkWeights(config, await readSafetensors(weightsPath), weightsPath);
  const optimizerPath = join(dir, 'optimizer.safetensors');
  const moments = await readSafetensors(optimizerPath);
  const m: WeightMap = new Map();
  const v: WeightMap = new Map();
  const problems: string[] = [];
  for (const spec of parameters) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    for (const [kind, target] of [
      ['m', m],
      ['v', v],
    ] as const) {
      const name = `${spec.name}${momentSuffix[kind]}`;
      const tensor = moments.get(name);
      if (!tensor) problems.push(`missing ${name}`);
      else if (tensor.data.length !== size)
        problems.push(`${name} has ${tensor.data.length} values, expected ${size}`);
      else target.set(spec.name, tensor);
    }
  }
  if (problems.length > 0) {
    throw new ModelLoadError({
      path: optimizerPath,
      message: `${optimizerPath} does not match the model:\n${problems
        .slice(0, 10)
        .map((problem) => `  - ${problem}`)
        .join('\n')}`,
    });
  }
  const teacherPath = join(dir, 'teacher.safetensors');
  const teacher = (await exists(teacherPath))
    ? checkWeights(config, await readSafetensors(teacherPath), teacherPath)
    : undefined;
  return { weights, m, v, ...(teacher ? { teacher } : {}), state };
}
