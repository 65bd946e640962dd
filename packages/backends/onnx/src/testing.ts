// Test helpers: an independent, uncached reference decoder over the same ONNX file. Not exported.
import { join } from 'node:path';
import type * as Ort from 'onnxruntime-node';

export interface UncachedModel {
  /** Full-sequence logits of the last position (no KV cache reuse: the whole sequence every time). */
  lastLogits(ids: number[]): Promise<Float32Array>;
  /** Logits of every position. */
  allLogits(ids: number[]): Promise<{ logits: Float32Array; vocab: number }>;
}

export async function uncachedModel(
  dir: string,
  layers: number,
  kvHeads: number,
  headDim: number,
): Promise<UncachedModel> {
  const ort = (await import('onnxruntime-node')) as typeof Ort;
  const session = await ort.InferenceSession.create(join(dir, 'onnx', 'model.onnx'), {
    logSeverityLevel: 3,
    intraOpNumThreads: 1,
  });
  const allLogits = async (ids: number[]) => {
    const feeds: Record<string, Ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
      attention_mask: new ort.Tensor(
        'int64',
        BigInt64Array.from(ids, () => 1n),
        [1, ids.length],
      ),
      position_ids: new ort.Tensor(
        'int64',
        BigInt64Array.from(ids, (_, i) => BigInt(i)),
        [1, ids.length],
      ),
    };
    if (session.inputNames.includes('num_logits_to_keep'))
      feeds.num_logits_to_keep = new ort.Tensor('int64', BigInt64Array.of(0n), []);
    for (let layer = 0; layer < layers; layer++) {
      for (const kind of ['key', 'value']) {
        feeds[`past_key_values.${layer}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [
          1,
          kvHeads,
          0,
          headDim,
        ]);
      }
    }
    const logits = (await session.run(feeds)).logits as Ort.Tensor;
    return { logits: logits.data as Float32Array, vocab: logits.dims[2] as number };
  };
  return {
    allLogits,
    async lastLogits(ids) {
      const { logits, vocab } = await allLogits(ids);
      return logits.slice((ids.length - 1) * vocab);
    },
  };
}

export function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] as number) > (values[best] as number)) best = i;
  return best;
}

export function logSoftmaxAt(values: Float32Array, index: number, temperature = 1): number {
  let max = Number.NEGATIVE_INFINITY;
  for (const value of values) max = Math.max(max, value / temperature);
  let sum = 0;
  for (const value of values) sum += Math.exp(value / temperature - max);
  return (values[index] as number) / temperature - max - Math.log(sum);
}
