import type { ValueInfo } from '@rlpt/model';
import type * as Ort from 'onnxruntime-node';

/** Block probabilities of the full softmax, computed by onnxruntime (vectorised, multi-threaded). */
export interface BlockProbabilities {
  /** Σ softmax(logits / T) over consecutive blocks of `blockSize` ids, `[rows, blocks]`. */
  blockProbs: Float32Array;
  blocks: number;
  blockSize: number;
}

/**
 * The block size for a vocabulary: a divisor d of it minimising vocab / d + d (the JS work per draw), so
 * no padding copy is needed; 512 with padding when the vocabulary has no divisor in [32, 4096].
 */
export function blockSizeFor(vocabSize: number): { blockSize: number; padded: boolean } {
  let best = 0;
  for (let d = 32; d <= 4096 && d <= vocabSize; d++) {
    if (vocabSize % d === 0 && (best === 0 || vocabSize / d + d < vocabSize / best + best)) best = d;
  }
  // A divisor far from √vocab still beats a padding copy unless the JS side becomes the bottleneck.
  if (best > 0 && vocabSize / best + best <= 8 * Math.sqrt(vocabSize))
    return { blockSize: best, padded: false };
  return { blockSize: 512, padded: true };
}

/**
 * A tiny ONNX graph over `[rows, vocab]` logits that returns the softmax mass of each block of ids. With
 * it, drawing a token (or the logprob of the argmax) costs O(vocab / blockSize + blockSize) in JS instead
 * of `vocab` exps, which dominates decoding on large vocabularies (151,936 for Qwen3).
 */
export class SoftmaxHead {
  readonly blockSize: number;
  readonly blocks: number;
  private readonly padded: boolean;
  private readonly sessions = new Map<boolean, Promise<Ort.InferenceSession>>();

  constructor(
    private readonly ort: typeof Ort,
    readonly vocabSize: number,
    private readonly sessionOptions: Ort.InferenceSession.SessionOptions,
  ) {
    const { blockSize, padded } = blockSizeFor(vocabSize);
    this.blockSize = blockSize;
    this.padded = padded;
    this.blocks = Math.ceil(vocabSize / blockSize);
  }

  /** The graph for temperature 1 (no scaling pass) or any other temperature (an `inverse_temperature` input). */
  private session(scaled: boolean): Promise<Ort.InferenceSession> {
    let session = this.sessions.get(scaled);
    if (!session) {
      session = this.build(scaled);
      this.sessions.set(scaled, session);
    }
    return session;
  }

  private async build(scaled: boolean): Promise<Ort.InferenceSession> {
    const { GraphBuilder, serializeModel, attr } = await import('@rlpt/model');
    const b = new GraphBuilder({ name: 'softmax-blocks' });
    const width = this.blocks * this.blockSize;
    let logits = b.input('logits', 'float32', ['rows', this.vocabSize]);
    if (scaled) logits = b.mul(logits, b.input('inverse_temperature', 'float32', [1, 1]));
    if (this.padded) {
      // Padding logits at the lowest float32 get probability 0.
      logits = b.op(
        'Pad',
        [logits, b.int64s([0, 0, 0, width - this.vocabSize]), b.scalar(-3.4028234663852886e38)],
        {
          mode: attr.string('constant'),
        },
        { outputTypes: [{ dtype: 'float32', shape: ['rows', width] }] },
      )[0] as ValueInfo;
    }
    const probabilities = b.softmax(logits, -1);
    const sums = b.op(
      'ReduceSum',
      [b.reshape(probabilities, [0, this.blocks, this.blockSize]), b.int64s([2])],
      {
        keepdims: attr.int(0),
      },
    )[0] as ValueInfo;
    b.output(sums, 'block_probs');
    return this.ort.InferenceSession.create(serializeModel(b.build()), this.sessionOptions);
  }

  /** Block probabilities for `rows` logit rows laid out contiguously in `logits` (row r at r·vocab). */
  async run(logits: Float32Array, rows: number, temperature: number): Promise<BlockProbabilities> {
    const scaled = temperature !== 1;
    const session = await this.session(scaled);
    const feeds: Record<string, Ort.Tensor> = {
      logits: new this.ort.Tensor('float32', logits.subarray(0, rows * this.vocabSize), [
        rows,
        this.vocabSize,
      ]),
    };
    if (scaled)
      feeds.inverse_temperature = new this.ort.Tensor('float32', Float32Array.of(1 / temperature), [1, 1]);
    const out = await session.run(feeds);
    return {
      blockProbs: out.block_probs?.data as Float32Array,
      blocks: this.blocks,
      blockSize: this.blockSize,
    };
  }

  async release(): Promise<void> {
    for (const session of this.sessions.values()) await (await session).release();
    this.sessions.clear();
  }
}
