import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { InvalidArgumentError } from '@rlpt/spec';

/** Writes a file so a crash leaves either the old or the new content, never a torn file. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
}

export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** What a checkpoint records besides the learner's own files. */
export interface TrainerState {
  /** Stage the checkpoint was taken in. */
  stage: string;
  /** Last completed step of that stage (1-based). */
  step: number;
  /** Stages finished before this checkpoint, with their summaries. */
  completedStages: Record<string, unknown>;
  /** Tokens the learner has been trained on so far (all stages). */
  tokensSeen: number;
  /**
   * Forward-equivalent tokens processed so far (all stages): a token in a forward pass (sampling,
   * scoring) counts 1, a trained token 3 (forward + backward). Absent in checkpoints written before it.
   */
  computeTokens?: number;
  /** `computeTokens` when the current stage started (for `computeBudget`). */
  stageComputeStart?: number;
}

export interface Checkpoint {
  dir: string;
  state: TrainerState;
}

/**
 * One training run's folder (ARCHITECTURE.md, "Run directory"): `config.json`, `metrics.jsonl`,
 * `samples/<stage>-step-N.jsonl`, `checkpoints/<stage>-step-N/` (atomic rename), `report.md`.
 */
export class RunDirectory {
  readonly root: string;

  private constructor(root: string) {
    this.root = root;
  }

  get metricsPath(): string {
    return join(this.root, 'metrics.jsonl');
  }

  get checkpointsDir(): string {
    return join(this.root, 'checkpoints');
  }

  /**
   * Opens (creating) a run directory. A directory that already holds a run is only reused with
   * `resume: true`, so a typo never overwrites an earlier run.
   */
  static async open(root: string, options: { resume?: boolean } = {}): Promise<RunDirectory> {
    const hasRun = (await exists(join(root, 'metrics.jsonl'))) || (await exists(join(root, 'checkpoints')));
    if (hasRun && !options.resume) {
      throw new InvalidArgumentError({
        argument: 'runDir',
        message: `Run directory ${root} already holds a run. Pass resume (--resume) to continue it, or choose a new directory.`,
      });
    }
    await mkdir(join(root, 'checkpoints'), { recursive: true });
    await mkdir(join(root, 'samples'), { recursive: true });
    return new RunDirectory(root);
  }

  async writeConfig(config: unknown): Promise<void> {
    await writeJsonAtomic(join(this.root, 'config.json'), config);
  }

  /** Appends one metrics line and flushes it to disk. */
  async appendMetrics(line: Record<string, unknown>): Promise<void> {
    const handle = await open(this.metricsPath, 'a');
    try {
      await handle.write(`${JSON.stringify(line)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async readMetrics(): Promise<Record<string, unknown>[]> {
    if (!(await exists(this.metricsPath))) return [];
    const text = await readFile(this.metricsPath, 'utf8');
    const rows: Record<string, unknown>[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        rows.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // A torn last line from a crash: everything after the checkpoint is recomputed on resume.
      }
    }
    return rows;
  }

  /**
   * Keeps only the metrics a checkpoint covers, so a resumed run appends exactly what an
   * uninterrupted run would have written.
   */
  async truncateMetricsTo(keep: (row: Record<string, unknown>) => boolean): Promise<void> {
    const rows = (await this.readMetrics()).filter(keep);
    await writeFileAtomic(this.metricsPath, rows.map((row) => `${JSON.stringify(row)}\n`).join(''));
  }

  async writeSamples(name: string, rows: unknown[]): Promise<void> {
    await writeFileAtomic(
      join(this.root, 'samples', `${name}.jsonl`),
      rows.map((row) => `${JSON.stringify(row)}\n`).join(''),
    );
  }

  /**
   * Writes a checkpoint: `write(dir)` fills a temporary folder, then it is renamed into place and
   * `checkpoints/latest.json` is updated atomically. Older checkpoints beyond `keep` are removed.
   */
  async checkpoint(state: TrainerState, write: (dir: string) => Promise<void>, keep = 2): Promise<string> {
    const name = `${state.stage}-step-${state.step}`;
    const final = join(this.checkpointsDir, name);
    const temp = join(this.checkpointsDir, `.tmp-${name}-${randomBytes(4).toString('hex')}`);
    await mkdir(temp, { recursive: true });
    await write(temp);
    await writeJsonAtomic(join(temp, 'trainer-state.json'), state);
    await rm(final, { recursive: true, force: true });
    await rename(temp, final);
    const history = await this.checkpointHistory();
    const next = [...history.filter((entry) => entry !== name), name];
    await writeJsonAtomic(join(this.checkpointsDir, 'latest.json'), { latest: name, history: next });
    for (const old of next.slice(0, Math.max(0, next.length - keep))) {
      await rm(join(this.checkpointsDir, old), { recursive: true, force: true });
    }
    await writeJsonAtomic(join(this.checkpointsDir, 'latest.json'), {
      latest: name,
      history: next.slice(-keep),
    });
    return final;
  }

  private async checkpointHistory(): Promise<string[]> {
    try {
      const index = JSON.parse(await readFile(join(this.checkpointsDir, 'latest.json'), 'utf8')) as {
        history?: string[];
      };
      return index.history ?? [];
    } catch {
      return [];
    }
  }

  /** The newest complete checkpoint, if any (temporary folders from a crash are ignored and removed). */
  async latestCheckpoint(): Promise<Checkpoint | undefined> {
    for (const entry of await readdir(this.checkpointsDir).catch(() => [] as string[])) {
      if (entry.startsWith('.tmp-'))
        await rm(join(this.checkpointsDir, entry), { recursive: true, force: true });
    }
    const history = await this.checkpointHistory();
    for (const name of [...history].reverse()) {
      const dir = join(this.checkpointsDir, name);
      try {
        const state = JSON.parse(await readFile(join(dir, 'trainer-state.json'), 'utf8')) as TrainerState;
        return { dir, state };
      } catch {
        // Missing or partial: fall back to the previous one.
      }
    }
    return undefined;
  }

  async writeReport(markdown: string): Promise<void> {
    await writeFile(join(this.root, 'report.md.tmp'), markdown);
    await rename(join(this.root, 'report.md.tmp'), join(this.root, 'report.md'));
  }
}
