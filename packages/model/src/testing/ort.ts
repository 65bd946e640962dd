// Test helpers: run model folders built by this package in onnxruntime-node. Not exported.
import { join } from 'node:path';
import type * as Ort from 'onnxruntime-node';
import type { DecoderConfig } from '../config.js';

export type OrtModule = typeof Ort;

export async function loadOrt(): Promise<OrtModule> {
  return (await import('onnxruntime-node')) as OrtModule;
}

export async function openSession(ort: OrtModule, dirOrFile: string): Promise<Ort.InferenceSession> {
  const path = dirOrFile.endsWith('.onnx') ? dirOrFile : join(dirOrFile, 'onnx', 'model.onnx');
  return ort.InferenceSession.create(path, { logSeverityLevel: 3, intraOpNumThreads: 1 });
}

export interface ForwardInput {
  /** Rows of equal length. */
  inputIds: number[][];
  attentionMask?: number[][];
  positionIds?: number[][];
  past?: Record<string, Ort.Tensor>;
  numLogitsToKeep?: number;
}

const int64 = (ort: OrtModule, rows: number[][]) =>
  new ort.Tensor(
    'int64',
    BigInt64Array.from(rows.flat(), (value) => BigInt(value)),
    [rows.length, rows[0]?.length ?? 0],
  );

/** One forward; returns logits [B, S', V] and the present cache renamed to past inputs. */
export async function forward(
  ort: OrtModule,
  session: Ort.InferenceSession,
  config: DecoderConfig,
  input: ForwardInput,
): Promise<{ logits: Float32Array; dims: readonly number[]; past: Record<string, Ort.Tensor> }> {
  const batch = input.inputIds.length;
  const past = input.past ?? emptyPast(ort, config, batch);
  const pastLength = Number(Object.values(past)[0]?.dims[2] ?? 0);
  const length = input.inputIds[0]?.length ?? 0;
  const mask = input.attentionMask ?? input.inputIds.map(() => Array(pastLength + length).fill(1));
  const positions =
    input.positionIds ?? input.inputIds.map(() => Array.from({ length }, (_, i) => pastLength + i));
  const feeds: Record<string, Ort.Tensor> = {
    input_ids: int64(ort, input.inputIds),
    attention_mask: int64(ort, mask),
    position_ids: int64(ort, positions),
    ...past,
  };
  if (session.inputNames.includes('num_logits_to_keep')) {
    feeds.num_logits_to_keep = new ort.Tensor(
      'int64',
      BigInt64Array.of(BigInt(input.numLogitsToKeep ?? 0)),
      [],
    );
  }
  const out = await session.run(feeds);
  const next: Record<string, Ort.Tensor> = {};
  for (let layer = 0; layer < config.numHiddenLayers; layer++) {
    next[`past_key_values.${layer}.key`] = out[`present.${layer}.key`] as Ort.Tensor;
    next[`past_key_values.${layer}.value`] = out[`present.${layer}.value`] as Ort.Tensor;
  }
  const logits = out.logits as Ort.Tensor;
  return { logits: logits.data as Float32Array, dims: logits.dims, past: next };
}

export function emptyPast(ort: OrtModule, config: DecoderConfig, batch: number): Record<string, Ort.Tensor> {
  const past: Record<string, Ort.Tensor> = {};
  for (let layer = 0; layer < config.numHiddenLayers; layer++) {
    for (const kind of ['key', 'value']) {
      past[`past_key_values.${layer}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [
        batch,
        config.numKeyValueHeads,
        0,
        config.headDim,
      ]);
    }
  }
  return past;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}

export function maxAbs(a: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] as number));
  return max;
}
