import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type EventHandler, ModelLoadError } from '@rlpt/spec';
import { decoderParameterSpecs, type InferenceGraphOptions, type WeightMap } from './decoder.js';
import { type ModelFolder, readModelConfig, writeModelFolder } from './folder.js';
import { readCheckpointWeights } from './safetensors.js';

/** Options for {@link convertCheckpoint}. */
export interface ConvertCheckpointOptions {
  /** Hugging Face checkpoint folder: `config.json`, `model.safetensors` (or sharded), tokenizer files. */
  checkpoint: string;
  /** Output model folder. */
  out: string;
  /** Replace an existing output folder. Default false. */
  overwrite?: boolean;
  /** External data for the ONNX weights: `'auto'` (default: above 1.5 GB), or forced on/off. */
  externalData?: boolean | 'auto';
  /** Also write `model.safetensors` (float32) into the output: what `@rlpt/learner-onnx` (and so `rlpt train`) reads the weights from. Default true; false for an inference-only folder. */
  safetensors?: boolean;
  /** Inference graph options (see `InferenceGraphOptions`; standard ONNX: `{ norm: 'primitive', linear: 'matmul', numLogitsToKeep: false }`). */
  graph?: InferenceGraphOptions;
  /** Progress: `read-weights` (tensors), then `write-model` (0/1 → 1/1). */
  onEvent?: EventHandler;
}

/**
 * Checks that `weights` holds exactly the tensors the decoder needs, with the right shapes. Tied models
 * may carry a redundant `lm_head.weight` (ignored). Throws `ModelLoadError` listing every problem.
 */
export function checkWeights(
  config: Parameters<typeof decoderParameterSpecs>[0],
  weights: WeightMap,
  path: string,
): WeightMap {
  const problems: string[] = [];
  const selected: WeightMap = new Map();
  for (const spec of decoderParameterSpecs(config)) {
    const tensor = weights.get(spec.name);
    if (!tensor) {
      problems.push(`missing ${spec.name} ${JSON.stringify(spec.shape)}`);
      continue;
    }
    if (tensor.dims.length !== spec.shape.length || tensor.dims.some((dim, i) => dim !== spec.shape[i])) {
      problems.push(
        `${spec.name} has shape ${JSON.stringify(tensor.dims)}, config.json implies ${JSON.stringify(spec.shape)}`,
      );
      continue;
    }
    selected.set(spec.name, tensor);
  }
  const expected = new Set(decoderParameterSpecs(config).map((spec) => spec.name));
  const ignorable = (name: string) =>
    name === 'lm_head.weight' || name.endsWith('.rotary_emb.inv_freq') || name.endsWith('.masked_bias');
  const unexpected = [...weights.keys()].filter((name) => !expected.has(name) && !ignorable(name));
  if (unexpected.length > 0) {
    problems.push(
      `unexpected tensors (wrong model_type or an unsupported variant?): ${unexpected.slice(0, 8).join(', ')}${unexpected.length > 8 ? `, … (${unexpected.length} in all)` : ''}`,
    );
  }
  if (problems.length > 0) {
    throw new ModelLoadError({
      path,
      message: `The checkpoint in ${path} doesn't match its config.json:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`,
    });
  }
  return selected;
}

/**
 * Converts a Hugging Face checkpoint (safetensors + `config.json` + tokenizer files) of a Llama / Qwen2 /
 * Qwen3 model to an ONNX model folder (inference graph with KV cache in the Optimum layout). The original
 * `config.json` fields are kept; `generation_config.json` and tokenizer files are copied.
 */
export async function convertCheckpoint(options: ConvertCheckpointOptions): Promise<ModelFolder> {
  const { checkpoint } = options;
  const { config, json } = await readModelConfig(checkpoint);
  const onEvent = options.onEvent;
  const weights = checkWeights(
    config,
    await readCheckpointWeights(checkpoint, onEvent ? { onEvent } : {}),
    checkpoint,
  );
  let generationConfig: Record<string, unknown> | undefined;
  const generationPath = join(checkpoint, 'generation_config.json');
  if (
    await stat(generationPath).then(
      () => true,
      () => false,
    )
  ) {
    try {
      generationConfig = JSON.parse(await readFile(generationPath, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new ModelLoadError({
        path: generationPath,
        message: `${generationPath} is not valid JSON.`,
        cause: error,
      });
    }
  }
  onEvent?.({ type: 'progress', phase: 'write-model', done: 0, total: 1, unit: 'folders' });
  const folder = await writeModelFolder({
    dir: options.out,
    config,
    weights,
    configJson: json,
    tokenizer: { copyFrom: checkpoint },
    ...(generationConfig ? { generationConfig } : {}),
    ...(options.overwrite !== undefined ? { overwrite: options.overwrite } : {}),
    ...(options.externalData !== undefined ? { externalData: options.externalData } : {}),
    safetensors: options.safetensors ?? true,
    ...(options.graph ? { graph: options.graph } : {}),
  });
  onEvent?.({ type: 'progress', phase: 'write-model', done: 1, total: 1, unit: 'folders' });
  return folder;
}
