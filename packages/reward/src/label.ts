import type { JudgeMode, TaskKind } from '@rlpt/spec';

/**
 * The reward label of one training sample, as `rlpt prepare --format openrlhf` writes it into the label
 * column (a JSON string, because OpenRLHF passes labels to the reward server as strings) and
 * `rlpt prepare --format verl` into `reward_model.ground_truth`.
 *
 * ```json
 * {"reference": "s_i s_{i+1} s_{i+2}", "target": "s_i", "task": "asr", "id": "doc-7:12"}
 * ```
 */
export interface RewardLabel {
  /** The reference window s_i, s_{i+1}, … — what `prefix` mode judges against. Required. */
  reference: string;
  /** s_i alone — what `strict` mode judges against. Required for `strict`. */
  target?: string;
  /** Which task built the prompt (informational; echoed in logs): `next-token` for RPT's task. */
  task?: TaskKind | 'next-token';
  /** Sample id, echoed in logs and errors. */
  id?: string;
  /** Judge mode for this sample, overriding the server's. */
  mode?: JudgeMode;
}

/**
 * Result of {@link parseRewardLabel}. `plain` is true for a plain-text label (the whole string is the
 * reference): it has no separate target for a prefix judge to require.
 */
export type ParsedRewardLabel =
  | { ok: true; label: RewardLabel; plain?: boolean }
  | { ok: false; message: string };

/**
 * Reads a label string. A JSON object (first non-blank character `{`) must have the {@link RewardLabel}
 * shape; any other non-empty string is taken as the reference (and the strict-mode target) itself, so
 * plain-text label columns work too.
 */
export function parseRewardLabel(label: unknown): ParsedRewardLabel {
  if (typeof label !== 'string') {
    return {
      ok: false,
      message: `the label must be a string, got ${label === null ? 'null' : typeof label}`,
    };
  }
  const trimmed = label.trim();
  if (trimmed.length === 0) {
    return {
      ok: false,
      message:
        'the label is empty: pass the label column to the trainer (OpenRLHF --data.label_key label) with labels written by `rlpt prepare --format openrlhf`',
    };
  }
  if (!trimmed.startsWith('{')) return { ok: true, label: { reference: label, target: label }, plain: true };
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch (error) {
    return {
      ok: false,
      message: `the label starts with "{" but is not valid JSON (${(error as Error).message}); expected {"reference": "…", "target": "…"}`,
    };
  }
  return validateRewardLabel(value);
}

/** Checks an already-parsed label object (e.g. from a `/v1/reward` item). */
export function validateRewardLabel(value: unknown): ParsedRewardLabel {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, message: 'the label must be a JSON object like {"reference": "…"}' };
  }
  const record = value as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof record.reference !== 'string' || record.reference.trim().length === 0) {
    problems.push('"reference" must be a non-empty string');
  }
  for (const key of ['target', 'id'] as const) {
    if (record[key] !== undefined && typeof record[key] !== 'string')
      problems.push(`"${key}" must be a string`);
  }
  if (
    record.task !== undefined &&
    record.task !== 'asr' &&
    record.task !== 'msr' &&
    record.task !== 'next-token'
  ) {
    problems.push('"task" must be "asr", "msr" or "next-token"');
  }
  if (record.mode !== undefined && record.mode !== 'prefix' && record.mode !== 'strict') {
    problems.push('"mode" must be "prefix" or "strict"');
  }
  if (problems.length > 0) return { ok: false, message: `invalid label: ${problems.join('; ')}` };
  const label: RewardLabel = { reference: record.reference as string };
  if (typeof record.target === 'string') label.target = record.target;
  if (record.task === 'asr' || record.task === 'msr' || record.task === 'next-token')
    label.task = record.task;
  if (typeof record.id === 'string') label.id = record.id;
  if (record.mode === 'prefix' || record.mode === 'strict') label.mode = record.mode;
  return { ok: true, label };
}

/** Serialises a label for a dataset's label column (the inverse of {@link parseRewardLabel}). */
export function formatRewardLabel(label: RewardLabel): string {
  const { reference, target, task, id, mode } = label;
  return JSON.stringify({ reference, target, task, id, mode });
}

/**
 * The reference text an item is judged against in `mode`: the window for `prefix`, `target` for `strict`.
 */
export function referenceFor(
  label: RewardLabel,
  mode: JudgeMode,
): { ok: true; reference: string } | { ok: false; message: string } {
  if (mode === 'prefix') return { ok: true, reference: label.reference };
  if (label.target !== undefined && label.target.trim().length > 0)
    return { ok: true, reference: label.target };
  return {
    ok: false,
    message: 'strict mode needs the label\'s "target" (s_i alone); this label only has "reference"',
  };
}

/**
 * The `reference` and `target` fields of the `JudgeItem` for a label in `mode` — what `rlpt train` hands
 * its judge (`reference`: the window for `prefix`, s_i for `strict`; `target`: s_i), so remote training
 * (verl, OpenRLHF through `rlpt serve reward`) and `rlpt judge` reward the same thing as local training: a
 * prefix judge then requires the prediction to cover s_i, and a 3-word fragment of s_i scores 0. A
 * plain-text label (`plain`) has no target of its own and gives none.
 */
export function judgeFieldsFor(
  parsed: { label: RewardLabel; plain?: boolean },
  mode: JudgeMode,
): { ok: true; reference: string; target?: string } | { ok: false; message: string } {
  const chosen = referenceFor(parsed.label, mode);
  if (!chosen.ok) return chosen;
  const { target } = parsed.label;
  if (parsed.plain || target === undefined || target.trim().length === 0) return chosen;
  return { ok: true, reference: chosen.reference, target };
}

/**
 * The policy's response inside an OpenRLHF `query` (prompt + response, decoded with special tokens).
 * The prompt is found as an exact prefix, else as the last occurrence of the prompt (special tokens or a
 * BOS may precede it), else by its last 64 characters. `found: false` when none works; the caller then
 * has only the whole query to extract from.
 */
export function responseFromQuery(query: string, prompt: string): { response: string; found: boolean } {
  if (prompt.length === 0) return { response: query, found: false };
  if (query.startsWith(prompt)) return { response: query.slice(prompt.length), found: true };
  const at = query.lastIndexOf(prompt);
  if (at >= 0) return { response: query.slice(at + prompt.length), found: true };
  const tail = prompt.trimEnd().slice(-64);
  if (tail.length >= 16) {
    const tailAt = query.lastIndexOf(tail);
    if (tailAt >= 0) return { response: query.slice(tailAt + tail.length), found: true };
  }
  return { response: query, found: false };
}
