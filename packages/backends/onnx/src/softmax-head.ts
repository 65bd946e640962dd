import type { ValueInfo } from '@rlpt/model';
import type * as Ort from 'onnxruntime-node';

/** Per-row softmax statistics computed by onnxruntime (vectorised, multi-threaded) instead of JS. */
export interface SoftmaxStats {
  /** max_i logits_i / T, per row. */
  max: Float32Array;
  /** log Σ_i exp(logits_i / T), per row. */
  logZ: Float32Array;
  /** Σ exp(logits_i / T − max) over consecutive blocks of `blockSize` ids, `[rows, blocks]`. */
  blockSums: Float32Array;
  blocks: number;
  blockSize: number;
}

/** Ids per block: the JS side scans blocks, then at most one block of exps. */
export const softmaxBlockSize = 512;

/**
 * A tiny ONNX graph over `[rows, vocab]` logits: scaled max, log-sum-exp and block sums of the
 * unnormalised probabilities. With these, drawing a token costs O(vocab / 512 + 512) in JS instead of
 * `vocab` exps, which dominates decoding on large vocabularies (151,936 for Qwen3).
 */
export class SoftmaxHead {
  private constructor(
    private readonly ort: typeof Ort,
    private readonly session: Ort.InferenceSession,
    readonly vocabSize: number,
    readonly blocks: number,
  ) {}

  static async create(
    ort: typeof Ort,
    vocabSize: number,
    sessionOptions: Ort.InferenceSession.SessionOptions,
  ): Promise<SoftmaxHead> {
    const { GraphBuilder, serializeModel, attr } = await import('@rlpt/model');
    const blocks = Math.ceil(vocabSize / softmaxBlockSize);
    const b = new GraphBuilder({ name: 'softmax-head' });
    const one = (opType: string, inputs: ValueInfo[], attributes = {}) =>
      b.op(opType, inputs, attributes)[0] as ValueInfo;
    const logits = b.input('logits', 'float32', ['rows', vocabSize]);
    const inverseTemperature = b.input('inverse_temperature', 'float32', [1, 1]);
    const scaled = b.mul(logits, inverseTemperature);
    const max = one('ReduceMax', [scaled, b.int64s([1])], { keepdims: attr.int(1) });
    const weights = one('Exp', [b.sub(scaled, max)]);
    const padded = b.op(
      'Pad',
      [weights, b.int64s([0, 0, 0, blocks * softmaxBlockSize - vocabSize])],
      { mode: attr.string('constant') },
      {
        outputTypes: [{ dtype: 'float32', shape: ['rows', blocks * softmaxBlockSize] }],
      },
    )[0] as ValueInfo;
    const blockSums = one('ReduceSum', [b.reshape(padded, [0, blocks, softmaxBlockSize]), b.int64s([2])], {
      keepdims: attr.int(0),
    });
    const total = one('ReduceSum', [blockSums, b.int64s([1])], { keepdims: attr.int(1) });
    const logZ = b.add(max, one('Log', [total]));
    b.output(max, 'max');
    b.output(logZ, 'log_z');
    b.output(blockSums, 'block_sums');
    const session = await ort.InferenceSession.create(serializeModel(b.build()), sessionOptions);
    return new SoftmaxHead(ort, session, vocabSize, blocks);
  }

  /** Statistics for `rows` logit rows laid out contiguously in `logits` (row r at r·vocab). */
  async run(logits: Float32Array, rows: number, temperature: number): Promise<SoftmaxStats> {
    const out = await this.session.run({
      logits: new this.ort.Tensor('float32', logits.subarray(0, rows * this.vocabSize), [
        rows,
        this.vocabSize,
      ]),
      inverse_temperature: new this.ort.Tensor('float32', Float32Array.of(1 / temperature), [1, 1]),
    });
    return {
      max: out.max?.data as Float32Array,
      logZ: out.log_z?.data as Float32Array,
      blockSums: out.block_sums?.data as Float32Array,
      blocks: this.blocks,
      blockSize: softmaxBlockSize,
    };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
