import { InvalidArgumentError, InvalidInputError, NumericError, type TokenBatch } from '@rlpt/spec';

/**
 * One right-padded micro-batch in the layout the training graphs read: row r holds the sequence
 * `prompt ++ completion` without its last token; position t predicts token t + 1.
 */
export interface MicroBatch {
  /** Indices into `batch.sequences` of the rows, in row order. */
  rows: number[];
  batchSize: number;
  sequenceLength: number;
  inputIds: BigInt64Array;
  targetIds: BigInt64Array;
  positionIds: BigInt64Array;
  attentionMask: BigInt64Array;
  /** c_t at the positions that predict completion tokens, 0 elsewhere (padding, prompt). */
  coefficients: Float32Array;
}

/** Where each sequence's completion logprobs sit in a micro-batch's `[batch, sequence]` output. */
export interface RowLayout {
  /** Position of the first completion token's prediction (prompt length − 1). */
  start: number;
  /** Number of completion tokens. */
  length: number;
}

/**
 * Checks a batch and its coefficients; throws naming the sequence (index) and what to do.
 *
 * @param vocabSize token ids must lie in [0, vocabSize)
 */
export function validateBatch(
  batch: TokenBatch,
  vocabSize: number,
  coefficients?: readonly Float32Array[],
): void {
  if (!batch || !Array.isArray(batch.sequences)) {
    throw new InvalidArgumentError({
      argument: 'batch',
      message: 'batch.sequences must be an array of { promptTokenIds, completionTokenIds }.',
    });
  }
  if (coefficients && coefficients.length !== batch.sequences.length) {
    throw new InvalidArgumentError({
      argument: 'coefficients',
      message: `Got ${coefficients.length} coefficient arrays for ${batch.sequences.length} sequences; pass one Float32Array per sequence, aligned with its completion tokens.`,
    });
  }
  batch.sequences.forEach((sequence, index) => {
    const where = `sequence ${index}`;
    if (sequence.promptTokenIds.length === 0) {
      throw new InvalidArgumentError({
        argument: `batch.sequences[${index}].promptTokenIds`,
        message: `${where} has an empty prompt: the first completion token needs at least one token before it (prepend BOS).`,
      });
    }
    for (const [part, ids] of [
      ['promptTokenIds', sequence.promptTokenIds],
      ['completionTokenIds', sequence.completionTokenIds],
    ] as const) {
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i] as number;
        if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
          throw new InvalidInputError({
            reason: 'token-out-of-range',
            location: { id: where },
            message: `${where}: ${part}[${i}] = ${id} is not a token id of this model (vocabulary size ${vocabSize}); tokenize with the model's own tokenizer.`,
          });
        }
      }
    }
    const weights = coefficients?.[index];
    if (!weights) return;
    if (weights.length !== sequence.completionTokenIds.length) {
      throw new InvalidArgumentError({
        argument: `coefficients[${index}]`,
        message: `${where} has ${sequence.completionTokenIds.length} completion tokens but ${weights.length} coefficients; they must align one to one.`,
      });
    }
    for (let i = 0; i < weights.length; i++) {
      if (!Number.isFinite(weights[i] as number)) {
        throw new NumericError({
          argument: `coefficients[${index}]`,
          index: i,
          message: `${where}: coefficient ${i} is ${weights[i]}; coefficients must be finite (check the advantages for NaN).`,
        });
      }
    }
  });
}

/** Where each sequence's completion predictions are: `start = prompt length − 1`. */
export function rowLayout(batch: TokenBatch, index: number): RowLayout {
  const sequence = batch.sequences[index];
  if (!sequence) throw new Error(`rowLayout: no sequence ${index}`);
  return { start: sequence.promptTokenIds.length - 1, length: sequence.completionTokenIds.length };
}

/**
 * Splits a batch into right-padded micro-batches of at most `maxTokens` padded positions (a single
 * longer sequence gets a micro-batch of its own). Sequences are grouped by length (longest first) to
 * keep padding small; each micro-batch's length is rounded up to a multiple of `lengthMultiple`.
 */
export function packBatch(
  batch: TokenBatch,
  options: { maxTokens: number; lengthMultiple: number; coefficients?: readonly Float32Array[] },
): MicroBatch[] {
  const lengths = batch.sequences.map(
    (sequence) => sequence.promptTokenIds.length + sequence.completionTokenIds.length - 1,
  );
  const order = lengths
    .map((_, index) => index)
    .sort((a, b) => (lengths[b] as number) - (lengths[a] as number) || a - b);
  const roundUp = (length: number) =>
    Math.max(1, Math.ceil(length / options.lengthMultiple) * options.lengthMultiple);
  const groups: number[][] = [];
  let current: number[] = [];
  let currentLength = 0;
  for (const index of order) {
    const length = roundUp(lengths[index] as number);
    const width = Math.max(currentLength, length);
    if (current.length > 0 && (current.length + 1) * width > options.maxTokens) {
      groups.push(current);
      current = [];
      currentLength = 0;
    }
    current.push(index);
    currentLength = Math.max(currentLength, length);
  }
  if (current.length > 0) groups.push(current);
  return groups.map((rows) =>
    fillMicroBatch(
      batch,
      rows,
      roundUp(Math.max(...rows.map((row) => lengths[row] as number))),
      options.coefficients,
    ),
  );
}

function fillMicroBatch(
  batch: TokenBatch,
  rows: number[],
  sequenceLength: number,
  coefficients: readonly Float32Array[] | undefined,
): MicroBatch {
  const size = rows.length * sequenceLength;
  const inputIds = new BigInt64Array(size);
  const targetIds = new BigInt64Array(size);
  const positionIds = new BigInt64Array(size);
  const attentionMask = new BigInt64Array(size);
  const weights = new Float32Array(size);
  rows.forEach((sequenceIndex, row) => {
    const sequence = batch.sequences[sequenceIndex];
    if (!sequence) return;
    const prompt = sequence.promptTokenIds;
    const completion = sequence.completionTokenIds;
    const total = prompt.length + completion.length;
    const tokenAt = (t: number) => (t < prompt.length ? prompt[t] : completion[t - prompt.length]) as number;
    const offset = row * sequenceLength;
    for (let t = 0; t < sequenceLength; t++) positionIds[offset + t] = BigInt(t);
    for (let t = 0; t < total - 1; t++) {
      inputIds[offset + t] = BigInt(tokenAt(t));
      targetIds[offset + t] = BigInt(tokenAt(t + 1));
      attentionMask[offset + t] = 1n;
    }
    const rowCoefficients = coefficients?.[sequenceIndex];
    if (rowCoefficients) weights.set(rowCoefficients, offset + prompt.length - 1);
  });
  return {
    rows,
    batchSize: rows.length,
    sequenceLength,
    inputIds,
    targetIds,
    positionIds,
    attentionMask,
    coefficients: weights,
  };
}
