/** AdamW hyper-parameters (PyTorch `torch.optim.AdamW` semantics and defaults). */
export interface AdamWSettings {
  /** Default 0.9. */
  beta1: number;
  /** Default 0.999. */
  beta2: number;
  /** Default 1e-8. */
  eps: number;
  /** Decoupled weight decay (p ← p·(1 − lr·wd)); default 0.01. */
  weightDecay: number;
}

/** One parameter tensor with its optimiser state. */
export interface AdamWSlot {
  parameter: Float32Array;
  m: Float32Array;
  v: Float32Array;
  grad: Float32Array;
  decay: boolean;
}

/** Global L2 norm of all gradients, accumulated in float64 in a fixed order (deterministic). */
export function globalNorm(grads: readonly Float32Array[]): number {
  let sum = 0;
  for (const grad of grads) {
    for (let i = 0; i < grad.length; i++) {
      const g = grad[i] as number;
      sum += g * g;
    }
  }
  return Math.sqrt(sum);
}

/**
 * Clipping by global norm (PyTorch `clip_grad_norm_`: scale = min(1, max / (norm + 1e-6))) and one
 * AdamW update, in place, exactly as `torch.optim.AdamW` (single-tensor path) orders it: weight decay
 * first, then bias-corrected moments, denominator √v̂ + ε.
 *
 * @param step 1-based index of this update (for bias correction)
 */
export function adamWStep(
  slots: readonly AdamWSlot[],
  settings: AdamWSettings,
  options: { learningRate: number; step: number; clipScale: number },
): void {
  const { beta1, beta2, eps, weightDecay } = settings;
  const { learningRate, step, clipScale } = options;
  const correction1 = 1 - beta1 ** step;
  const correction2Sqrt = Math.sqrt(1 - beta2 ** step);
  const stepSize = learningRate / correction1;
  const oneMinusBeta1 = 1 - beta1;
  const oneMinusBeta2 = 1 - beta2;
  for (const slot of slots) {
    const { parameter, m, v, grad } = slot;
    const decayFactor = slot.decay ? 1 - learningRate * weightDecay : 1;
    for (let i = 0; i < parameter.length; i++) {
      const g = (grad[i] as number) * clipScale;
      const mi = beta1 * (m[i] as number) + oneMinusBeta1 * g;
      const vi = beta2 * (v[i] as number) + oneMinusBeta2 * g * g;
      m[i] = mi;
      v[i] = vi;
      parameter[i] =
        (parameter[i] as number) * decayFactor - (stepSize * mi) / (Math.sqrt(vi) / correction2Sqrt + eps);
    }
  }
}
