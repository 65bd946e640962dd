import type { InferenceBackendV1, LearnerV1 } from '@rlpt/spec';
import { followingBackend, type RlptLauncher, spawnRlptServer } from './served-policy.js';

/** The demo's learner and sampler behind a real `rlpt serve tinker` child process (the Tinker API over HTTP). */
export interface TinkerDemo {
  /** Base URL of the server (`http://127.0.0.1:PORT`). */
  url: string;
  /** A `@rlpt/learner-tinker` learner on a new server-side model from the served folder. */
  makeLearner(): Promise<LearnerV1>;
  /** The trainer's policy loader: one `@rlpt/backend-tinker` client that follows the saved sampler weights. */
  loadPolicy(dir: string): Promise<InferenceBackendV1>;
  /** Sampler weight updates so far (`save_weights_for_sampler` → new sampling session). */
  samplerUpdates(): number;
  /** Closes the learners and the client, then stops the server. */
  close(): Promise<void>;
}

const baseModel = 'demo';

/**
 * Starts `rlpt serve tinker --model DIR --port 0` (one onnxruntime thread per `threads`) and connects
 * `@rlpt/learner-tinker` and `@rlpt/backend-tinker` to it with the in-process learner's Adam settings and
 * clipping, so the arithmetic matches the local run: the server trains with `@rlpt/learner-onnx` and
 * samples with `@rlpt/backend-onnx`.
 */
export async function startTinkerDemo(
  modelDir: string,
  options: {
    threads: number;
    adam: { beta1: number; beta2: number; eps: number; weightDecay: number };
    maxGradNorm: number;
    /** Where the server keeps saved weights (`tinker://` checkpoints), so a resumed demo finds them. */
    dataDir: string;
    rlpt?: RlptLauncher;
  },
): Promise<TinkerDemo> {
  const server = await spawnRlptServer(
    [
      'serve',
      'tinker',
      '--model',
      modelDir,
      '--base-model',
      baseModel,
      '--port',
      '0',
      '--threads',
      String(options.threads),
      '--data-dir',
      options.dataDir,
    ],
    /at (http:\/\/127\.0\.0\.1:\d+) \(Tinker API/,
    options,
  );
  const [{ createTinkerLearner }, { createTinkerBackend }] = await Promise.all([
    import('@rlpt/learner-tinker'),
    import('@rlpt/backend-tinker'),
  ]);
  const learners: LearnerV1[] = [];
  const client = createTinkerBackend({ baseURL: server.url, baseModel, tokenizerDir: modelDir });
  const { backend, updates } = followingBackend(client, 'rlpt-serve-tinker');
  return {
    url: server.url,
    async makeLearner() {
      const learner = await createTinkerLearner({
        baseURL: server.url,
        baseModel,
        adam: options.adam,
        gradClipNorm: options.maxGradNorm,
        // Wait for each optim_step: the step's grad norm is then reported, as in process.
        pipeline: false,
      });
      learners.push(learner);
      return learner;
    },
    loadPolicy: async () => backend,
    samplerUpdates: updates,
    async close() {
      try {
        for (const learner of learners) await learner.close?.();
        await client.close();
      } finally {
        await server.close();
      }
    },
  };
}
