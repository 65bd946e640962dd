import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { InvalidArgumentError, ModelLoadError } from '@rlpt/spec';
import { type DecoderConfig, decoderConfigToJson, parseDecoderConfig } from './config.js';
import { buildInferenceGraph, type InferenceGraphOptions, type WeightMap } from './decoder.js';
import { writeOnnxModel } from './ir/serialize.js';
import { writeSafetensors } from './safetensors.js';
import type { TokenizerFiles } from './tokenizers.js';

/** Options for {@link writeModelFolder}. */
export interface WriteModelFolderOptions {
  /** Destination folder (created; its parent must be writable). */
  dir: string;
  config: DecoderConfig;
  weights: WeightMap;
  /** Tokenizer files to write, or a folder to copy them from. */
  tokenizer: TokenizerFiles | { copyFrom: string };
  /** Extra fields merged into the written `config.json` (e.g. the original checkpoint's config). */
  configJson?: Record<string, unknown>;
  /** `generation_config.json` content (default: bos/eos/pad from the config). */
  generationConfig?: Record<string, unknown>;
  /** Replace an existing folder (atomically). Default false: an existing folder is an error. */
  overwrite?: boolean;
  /** External data for the ONNX weights: `'auto'` (default) above 1.5 GB, or forced on/off. */
  externalData?: boolean | 'auto';
  /** Also write `model.safetensors` (Hugging Face layout) next to the ONNX model. Default false. */
  safetensors?: boolean;
  /** Inference graph options (norm implementation, `num_logits_to_keep`). */
  graph?: InferenceGraphOptions;
}

/** What {@link writeModelFolder} wrote. */
export interface ModelFolder {
  dir: string;
  config: DecoderConfig;
  files: string[];
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

const tokenizerFileNames = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'vocab.json',
  'merges.txt',
  'added_tokens.json',
  'chat_template.jinja',
];

/**
 * Writes a complete model folder that transformers.js 4.x and `@rlpt/backend-onnx` load: `config.json`,
 * `generation_config.json`, `tokenizer.json`, `tokenizer_config.json`, `onnx/model.onnx` (+
 * `onnx/model.onnx_data` for large weights), optionally `model.safetensors`. Everything is written into a
 * temp folder next to `dir` and renamed into place, so a crash never leaves a half-written model.
 */
export async function writeModelFolder(options: WriteModelFolderOptions): Promise<ModelFolder> {
  const dir = resolve(options.dir);
  if ((await exists(dir)) && !options.overwrite) {
    throw new InvalidArgumentError({
      argument: 'dir',
      message: `Model folder ${dir} already exists; pass overwrite: true (CLI: --overwrite) to replace it, or choose another folder.`,
    });
  }
  const files: string[] = [];
  await writeDirectoryAtomically(dir, async (temp) => {
    await mkdir(join(temp, 'onnx'));
    const graph = buildInferenceGraph(options.config, options.weights, options.graph);
    const written = await writeOnnxModel(graph, join(temp, 'onnx', 'model.onnx'), {
      externalData: options.externalData ?? 'auto',
    });
    files.push('onnx/model.onnx');
    if (written.externalDataPath) files.push('onnx/model.onnx_data');

    const configJson: Record<string, unknown> = {
      ...(options.configJson ?? {}),
      ...decoderConfigToJson(options.config),
    };
    if (written.externalDataPath) {
      configJson['transformers.js_config'] = { dtype: 'fp32', use_external_data_format: true };
    }
    await writeFile(join(temp, 'config.json'), `${JSON.stringify(configJson, null, 2)}\n`);
    files.push('config.json');

    const generationConfig = options.generationConfig ?? {
      ...(options.config.bosTokenId !== undefined ? { bos_token_id: options.config.bosTokenId } : {}),
      ...(options.config.eosTokenId !== undefined ? { eos_token_id: options.config.eosTokenId } : {}),
      ...(options.config.padTokenId !== undefined ? { pad_token_id: options.config.padTokenId } : {}),
    };
    await writeFile(join(temp, 'generation_config.json'), `${JSON.stringify(generationConfig, null, 2)}\n`);
    files.push('generation_config.json');

    if ('copyFrom' in options.tokenizer) {
      const source = options.tokenizer.copyFrom;
      for (const name of tokenizerFileNames) {
        const path = join(source, name);
        if (!(await exists(path))) {
          if (name === 'tokenizer.json' || name === 'tokenizer_config.json') {
            throw new ModelLoadError({
              path,
              message: `${path} is missing: a model folder needs tokenizer.json and tokenizer_config.json (save the tokenizer with save_pretrained in the checkpoint folder).`,
            });
          }
          continue;
        }
        await writeFile(join(temp, name), await readFile(path));
        files.push(name);
      }
    } else {
      await writeFile(join(temp, 'tokenizer.json'), JSON.stringify(options.tokenizer.tokenizer));
      await writeFile(
        join(temp, 'tokenizer_config.json'),
        `${JSON.stringify(options.tokenizer.tokenizerConfig, null, 2)}\n`,
      );
      files.push('tokenizer.json', 'tokenizer_config.json');
    }
    if (options.safetensors) {
      await writeSafetensors(join(temp, 'model.safetensors'), options.weights);
      files.push('model.safetensors');
    }
  });
  return { dir, config: options.config, files: files.sort() };
}

/**
 * Fills a temp folder next to `dir` and renames it into place (replacing an existing `dir` by a second
 * rename), so readers see the old folder or the new one, never a partial one.
 */
export async function writeDirectoryAtomically(
  dir: string,
  fill: (temp: string) => Promise<void>,
): Promise<string> {
  const target = resolve(dir);
  await mkdir(dirname(target), { recursive: true });
  const stamp = `${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e9)}`;
  const temp = join(dirname(target), `.${basename(target)}.tmp-${stamp}`);
  await mkdir(temp);
  try {
    await fill(temp);
    if (await exists(target)) {
      const old = join(dirname(target), `.${basename(target)}.old-${stamp}`);
      await rename(target, old);
      await rename(temp, target);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(temp, target);
    }
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
  return target;
}

/** Reads and validates `config.json` of a model or checkpoint folder. */
export async function readModelConfig(
  dir: string,
): Promise<{ config: DecoderConfig; json: Record<string, unknown> }> {
  const path = join(dir, 'config.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ModelLoadError({
      path,
      message: `Cannot read ${path}: is ${dir} a Hugging Face model folder (config.json, tokenizer.json, …)?`,
      cause: error,
    });
  }
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new ModelLoadError({
      path,
      message: `${path} is not valid JSON: ${(error as Error).message}`,
      cause: error,
    });
  }
  return { config: parseDecoderConfig(json, path), json };
}
