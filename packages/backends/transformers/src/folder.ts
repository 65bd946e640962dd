import { access, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelLoadError } from '@rlpt/spec';

/** ONNX weight formats transformers.js loads, and the file-name suffix each one reads. */
export const dtypeSuffixes = {
  fp32: '',
  fp16: '_fp16',
  q8: '_quantized',
  int8: '_int8',
  uint8: '_uint8',
  q4: '_q4',
  q4f16: '_q4f16',
  bnb4: '_bnb4',
} as const;

/** A transformers.js weight format (`dtype`). */
export type TransformersDtype = keyof typeof dtypeSuffixes;

/** What the folder check learns. */
export interface CheckedFolder {
  config: Record<string, unknown>;
  generationConfig: Record<string, unknown>;
  onnxPath: string;
}

async function readJson(path: string, required: boolean): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (!required) return undefined;
    throw new ModelLoadError({
      path,
      message: `Cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'read error'}): a transformers.js model folder needs config.json, tokenizer.json and tokenizer_config.json.`,
      cause: error,
    });
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new Error('not a JSON object');
    return value as Record<string, unknown>;
  } catch (error) {
    throw new ModelLoadError({
      path,
      message: `${path} is not a valid JSON object: ${(error as Error).message}`,
      cause: error,
    });
  }
}

/**
 * Checks a model folder before transformers.js sees it, so a missing file is a `ModelLoadError` naming
 * the path (transformers.js would report a failed "download" instead).
 */
export async function checkModelFolder(
  dir: string,
  dtype: TransformersDtype,
  modelFileName: string,
): Promise<CheckedFolder> {
  let isDirectory = false;
  try {
    isDirectory = (await stat(dir)).isDirectory();
  } catch {
    isDirectory = false;
  }
  if (!isDirectory) {
    throw new ModelLoadError({
      path: dir,
      message: `Model folder ${dir} does not exist; create one with \`rlpt model init --out ${dir}\` or convert a checkpoint with \`rlpt model convert\`.`,
    });
  }
  const config = (await readJson(join(dir, 'config.json'), true)) as Record<string, unknown>;
  if (typeof config.model_type !== 'string') {
    throw new ModelLoadError({
      path: join(dir, 'config.json'),
      message: `${join(dir, 'config.json')} has no model_type; transformers.js picks the model class from it (e.g. "qwen3", "llama").`,
    });
  }
  await readJson(join(dir, 'tokenizer.json'), true);
  await readJson(join(dir, 'tokenizer_config.json'), true);
  const generationConfig = (await readJson(join(dir, 'generation_config.json'), false)) ?? {};
  const onnxPath = join(dir, 'onnx', `${modelFileName}${dtypeSuffixes[dtype]}.onnx`);
  try {
    await access(onnxPath);
  } catch (error) {
    throw new ModelLoadError({
      path: onnxPath,
      message: `${onnxPath} is missing: transformers.js loads onnx/${modelFileName}${dtypeSuffixes[dtype]}.onnx for dtype '${dtype}'. Pick the dtype whose file the folder has, or export one.`,
      cause: error,
    });
  }
  return { config, generationConfig, onnxPath };
}

/** Token ids from a config value that may be a number, a list, or absent. */
export function tokenIdList(value: unknown): number[] {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return [value];
  if (Array.isArray(value))
    return value.filter((entry): entry is number => Number.isInteger(entry) && entry >= 0);
  return [];
}
