import {
  buildGradientGraph,
  buildLogprobsGraph,
  buildTrainStepGraph,
  type DecoderConfig,
  type Graph,
  serializeModel,
  type TrainingGraphOptions,
} from '@rlpt/model';
import type { Logger } from '@rlpt/spec';
import type * as Ort from 'onnxruntime-node';

/** The training graphs a learner runs. */
export type GraphKind = 'logprobs' | 'gradients' | 'train-step';

/** How sessions are keyed: one per graph kind (dynamic dims), or one per (batch, length) bucket. */
export type ShapeMode = 'dynamic' | 'static';

/**
 * Builds, serialises and opens the training graphs lazily and keeps the sessions: one per kind with
 * dynamic dims, or one per kind and (batch, sequence) shape with static dims (least recently used
 * sessions beyond `maxSessions` are released).
 */
export class SessionCache {
  private readonly sessions = new Map<string, Promise<Ort.InferenceSession>>();

  constructor(
    private readonly ort: typeof Ort,
    private readonly config: DecoderConfig,
    private readonly sessionOptions: Ort.InferenceSession.SessionOptions,
    private readonly shapes: ShapeMode,
    private readonly maxSessions: number,
    private readonly logger: Logger,
  ) {}

  /** The session for `kind` at this batch shape. */
  get(kind: GraphKind, batch: number, sequence: number): Promise<Ort.InferenceSession> {
    const key = this.shapes === 'dynamic' ? kind : `${kind}:${batch}x${sequence}`;
    const existing = this.sessions.get(key);
    if (existing) {
      // Refresh its LRU position.
      this.sessions.delete(key);
      this.sessions.set(key, existing);
      return existing;
    }
    const dims: TrainingGraphOptions = this.shapes === 'dynamic' ? {} : { batch, sequence };
    const created = this.create(kind, dims, key);
    this.sessions.set(key, created);
    // A failed creation must not stay cached.
    created.catch(() => this.sessions.delete(key));
    this.evict();
    return created;
  }

  private async create(
    kind: GraphKind,
    dims: TrainingGraphOptions,
    key: string,
  ): Promise<Ort.InferenceSession> {
    const started = performance.now();
    const graph: Graph =
      kind === 'logprobs'
        ? buildLogprobsGraph(this.config, dims).graph
        : kind === 'gradients'
          ? buildGradientGraph(this.config, dims).graph
          : buildTrainStepGraph(this.config, dims).graph;
    const bytes = serializeModel(graph, { producer: 'rlpt-learner-onnx' });
    const session = await this.ort.InferenceSession.create(bytes, this.sessionOptions);
    this.logger.debug('learner-onnx: session created', {
      graph: key,
      nodes: graph.nodes.length,
      bytes: bytes.byteLength,
      ms: Math.round(performance.now() - started),
    });
    return session;
  }

  private evict(): void {
    while (this.sessions.size > this.maxSessions) {
      const [oldest, session] = this.sessions.entries().next().value as [
        string,
        Promise<Ort.InferenceSession>,
      ];
      this.sessions.delete(oldest);
      void session.then((value) => value.release()).catch(() => {});
    }
  }

  /** Releases every session. */
  async close(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map((session) => session.then((value) => value.release()).catch(() => {})));
  }
}
