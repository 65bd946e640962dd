import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { InvalidArgumentError, ModelLoadError } from '@rlpt/spec';

/** What the backend needs from a model folder besides the ONNX graph. */
export interface ModelFolderInfo {
  dir: string;
  /** Absolute path of the ONNX decoder. */
  onnxPath: string;
  config: Record<string, unknown>;
  generationConfig: Record<string, unknown>;
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
}

/** ONNX files tried, in order, when `modelFile` is not given. */
export const defaultModelFiles = [
  'onnx/model.onnx',
  'model.onnx',
  'onnx/decoder_model_merged.onnx',
  'decoder_model_merged.onnx',
];

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (stats) => stats.isFile(),
    () => false,
  );
}

async function readJson(
  path: string,
  required: boolean,
  hint: string,
): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ModelLoadError({ path, message: `Cannot read ${path}: ${hint}`, cause: error });
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new Error('expected a JSON object');
    return value as Record<string, unknown>;
  } catch (error) {
    throw new ModelLoadError({
      path,
      message: `${path} is not a valid JSON object: ${(error as Error).message}`,
      cause: error,
    });
  }
}

/** Options of {@link readModelFolder}. */
export interface ReadModelFolderOptions {
  /**
   * Whether `tokenizer.json` and `tokenizer_config.json` must be there (default true). The serve engine,
   * which gets token ids from its caller, reads a folder without them (they come back as `{}`).
   */
  tokenizerFiles?: boolean;
}

/** Reads config, generation config and tokenizer files, and finds the ONNX decoder. */
export async function readModelFolder(
  modelDir: string,
  modelFile?: string,
  options: ReadModelFolderOptions = {},
): Promise<ModelFolderInfo> {
  const tokenizerFiles = options.tokenizerFiles ?? true;
  if (typeof modelDir !== 'string' || modelDir.length === 0) {
    throw new InvalidArgumentError({
      argument: 'modelDir',
      message: 'createOnnxBackend: `modelDir` must be a model folder path.',
    });
  }
  const dir = resolve(modelDir);
  const dirStats = await stat(dir).catch(() => undefined);
  if (!dirStats?.isDirectory()) {
    throw new ModelLoadError({
      path: dir,
      message: `Model folder ${dir} does not exist or is not a folder. Create one with \`rlpt model init --out ${modelDir}\` or convert a checkpoint with \`rlpt model convert\`.`,
    });
  }
  let onnxPath: string | undefined;
  const candidates = modelFile ? [modelFile] : defaultModelFiles;
  for (const candidate of candidates) {
    const path = isAbsolute(candidate) ? candidate : join(dir, candidate);
    if (await isFile(path)) {
      onnxPath = path;
      break;
    }
  }
  if (!onnxPath) {
    throw new ModelLoadError({
      path: dir,
      message: `No ONNX decoder in ${dir}: looked for ${candidates.join(', ')}. Pass \`modelFile\` if it has another name.`,
    });
  }
  const hint = tokenizerFiles
    ? 'a model folder needs config.json, tokenizer.json and tokenizer_config.json next to onnx/model.onnx.'
    : 'a model folder needs config.json next to its ONNX graph.';
  const [config, generationConfig, tokenizerJson, tokenizerConfig] = await Promise.all([
    readJson(join(dir, 'config.json'), true, hint),
    readJson(join(dir, 'generation_config.json'), false, hint),
    readJson(join(dir, 'tokenizer.json'), tokenizerFiles, hint),
    readJson(join(dir, 'tokenizer_config.json'), tokenizerFiles, hint),
  ]);
  return {
    dir,
    onnxPath,
    config: config as Record<string, unknown>,
    generationConfig: generationConfig ?? {},
    tokenizerJson: tokenizerJson ?? {},
    tokenizerConfig: tokenizerConfig ?? {},
  };
}

/** Token ids from a config field that may be a number, a list, or absent. */
export function tokenIdList(value: unknown): number[] {
  if (typeof value === 'number' && Number.isInteger(value)) return [value];
  if (Array.isArray(value))
    return value.filter((id): id is number => typeof id === 'number' && Number.isInteger(id));
  return [];
}

/** What decoding needs from a folder's configs. */
export interface DecodingConfig {
  /** End-of-sequence ids: generation_config.json's when it has any (as in transformers), else config.json's. */
  eosIds: number[];
  /** Id fed at padded positions: the pad id of either config, else the first eos id, else 0. */
  padId: number;
  /** `max_position_embeddings` (or `n_positions`); infinite when neither is set. */
  maxPositions: number;
}

/**
 * Eos ids, pad id and context length from `config.json` and `generation_config.json`. `fallbackEos` gives
 * an eos id when neither config has one (the backend looks up the tokenizer's `eos_token`).
 */
export function decodingConfig(
  info: Pick<ModelFolderInfo, 'config' | 'generationConfig'>,
  fallbackEos?: () => number | undefined,
): DecodingConfig {
  const { config, generationConfig } = info;
  const generationEos = tokenIdList(generationConfig.eos_token_id);
  const eosIds = generationEos.length > 0 ? generationEos : tokenIdList(config.eos_token_id);
  if (eosIds.length === 0) {
    const id = fallbackEos?.();
    if (id !== undefined) eosIds.push(id);
  }
  const padId =
    tokenIdList(generationConfig.pad_token_id)[0] ?? tokenIdList(config.pad_token_id)[0] ?? eosIds[0] ?? 0;
  const positions = config.max_position_embeddings ?? config.n_positions;
  const maxPositions = typeof positions === 'number' && positions > 0 ? positions : Number.POSITIVE_INFINITY;
  return { eosIds, padId, maxPositions };
}
