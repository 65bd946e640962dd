import { InvalidArgumentError } from '@rlpt/spec';
import { compileTemplate, loadTemplate, TEMPLATE_KINDS, type TemplateKind } from './template.js';

/** A full set of RLPT prompts: the two policy tasks and the two judge prompts, as template strings. */
export interface PromptPreset {
  /** Preset name, used in error messages (`paper/asr`). */
  readonly name: string;
  /** ASR: predict s_i from s_<i. Placeholder `{context}`. */
  readonly asr: string;
  /** MSR: fill in s_i between s_<i and s_{i+1}. Placeholders `{prompt}`, `{next_step}`. */
  readonly msr: string;
  /**
   * Next token (RPT, METHOD.md §8): predict the exact text that follows `{context}`, which may end inside
   * a word; rewarded by `@rlpt/reward`'s RPT judge. Placeholder `{context}`.
   */
  readonly nextToken: string;
  /** Judge, prefix reward. Placeholders `{reference}`, `{predicted}`. */
  readonly grmPrefix: string;
  /** Judge, strict reward. Placeholders `{reference}`, `{predicted}`. */
  readonly grmStrict: string;
}

/** Names of the built-in presets. */
export type PresetName = 'paper' | 'tiny';

const lines = (...text: string[]): string => text.join('\n');

const paperGrmScoring = [
  '## Scoring Rules',
  '',
  'If the Predicted text semantically matches the prefix of the Reference, assign a score of 1.',
  'If the Predicted text does not semantically match the prefix of the Reference, assign a score of 0.',
  'When making your judgment, focus primarily on semantic equivalence, not on exact wording.',
  '',
  'Only output the score on a single line; do not provide any explanatory text or additional content.',
  'Output format (choose one):',
  '',
  'Score: 0',
  'or',
  'Score: 1',
];

/**
 * The prompts of the RLPT paper (arXiv 2509.19249), byte for byte as published (METHOD.md §3–4): ASR, MSR
 * and the prefix-reward judge. The paper does not publish its strict-reward judge prompt; `grmStrict` is
 * this project's: the prefix prompt's structure, asking whether the Predicted text expresses the same
 * content as the Reference (not a prefix of it). `nextToken` is this project's too: the ASR prompt's
 * reason-then-tag shape for RPT's next-token task (RPT does not publish a prompt in this shape).
 */
export const paperPreset: PromptPreset = Object.freeze({
  name: 'paper',
  asr: lines(
    'Complete the text provided under ### Context by predicting the next most probable sentence.',
    '',
    'Please reason step by step to determine the best possible continuation, and then enclose your final answer within <|startofprediction|> and <|endofprediction|> tags.',
    '',
    '### Context',
    '',
    '{context}',
  ),
  msr: lines(
    '## Text Material ##: {prompt}',
    '',
    '<MASK>',
    '',
    '{next_step}',
    '',
    '## Task ##: Fill in the <MASK> section of the material with appropriate sentences or a solution step.',
    '',
    'Carefully reason step by step to determine the most suitable completion. Finally, provide your best prediction for the <MASK> section. Enclose your final answer for the <MASK> part within <|startofprediction|> and <|endofprediction|>.',
  ),
  // Ours: ASR's shape for the next-token task (RPT's reward compares bytes, so "exactly" matters).
  nextToken: lines(
    'Complete the text provided under ### Context by predicting the next token: the exact characters that come next, which may finish the last word or be the start of the next one.',
    '',
    'Please reason step by step to determine the most probable continuation, and then enclose your final answer within <|startofprediction|> and <|endofprediction|> tags. Write the continuation exactly as it would appear in the text; it may span several tokens.',
    '',
    '### Context',
    '',
    '{context}',
  ),
  grmPrefix: lines(
    '## Task',
    'Given a Predicted sentence and a Reference paragraph, determine whether the Predicted text is a prefix (initial segment) of the Reference paragraph, and whether it expresses exactly the same semantic content as the corresponding prefix of the Reference.',
    'The Predicted text does not need to match the prefix of the Reference word-for-word, but it must convey the same meaning.',
    '',
    'Reference:',
    '{reference}',
    '',
    'Predicted:',
    '{predicted}',
    '',
    ...paperGrmScoring,
  ),
  // Ours (the paper does not publish it): the prefix prompt with "prefix of" replaced by "the same content as".
  grmStrict: lines(
    '## Task',
    'Given a Predicted sentence and a Reference sentence, determine whether the Predicted text expresses exactly the same semantic content as the Reference, no more and no less.',
    'The Predicted text does not need to match the Reference word-for-word, but it must convey the same meaning.',
    '',
    'Reference:',
    '{reference}',
    '',
    'Predicted:',
    '{predicted}',
    '',
    '## Scoring Rules',
    '',
    'If the Predicted text semantically matches the Reference, assign a score of 1.',
    'If the Predicted text does not semantically match the Reference, or adds or leaves out content, assign a score of 0.',
    'When making your judgment, focus primarily on semantic equivalence, not on exact wording.',
    '',
    'Only output the score on a single line; do not provide any explanatory text or additional content.',
    'Output format (choose one):',
    '',
    'Score: 0',
    'or',
    'Score: 1',
  ),
});

/**
 * Compact prompts for very small models (e.g. the demo's ~0.6M-parameter word-level model): one short
 * instruction line, then the data; the same `<|startofprediction|>`/`<|endofprediction|>` tags and the same
 * `Score: 0`/`Score: 1` judge output as `paper`. Words outside the data: `Predict the next sentence as
 * sentence . Fill in <MASK> Score 1 if Predicted means same start of Reference , else 0 Reply : or`.
 */
export const tinyPreset: PromptPreset = Object.freeze({
  name: 'tiny',
  asr: lines(
    'Predict the next sentence as <|startofprediction|> sentence <|endofprediction|> .',
    '{context}',
  ),
  msr: lines(
    'Fill in <MASK> as <|startofprediction|> sentence <|endofprediction|> .',
    '{prompt} <MASK> {next_step}',
  ),
  nextToken: lines('Predict the next word as <|startofprediction|> word <|endofprediction|> .', '{context}'),
  grmPrefix: lines(
    'Score 1 if Predicted means the same as the start of Reference , else 0 . Reply Score: 0 or Score: 1 .',
    'Reference: {reference}',
    'Predicted: {predicted}',
  ),
  grmStrict: lines(
    'Score 1 if Predicted means the same as Reference , else 0 . Reply Score: 0 or Score: 1 .',
    'Reference: {reference}',
    'Predicted: {predicted}',
  ),
});

/** The built-in presets by name. */
export const presets: Readonly<Record<PresetName, PromptPreset>> = Object.freeze({
  paper: paperPreset,
  tiny: tinyPreset,
});

/** Names of the built-in presets, in a stable order. */
export const PRESET_NAMES: readonly PresetName[] = Object.freeze(['paper', 'tiny']);

/**
 * Returns a built-in preset by name, or validates and returns a preset object as-is.
 *
 * @throws InvalidArgumentError for an unknown name (listing the known ones); PromptTemplateError when a
 *   preset object has a template with wrong placeholders.
 */
export function getPreset(preset: PresetName | PromptPreset): PromptPreset {
  if (typeof preset === 'string') {
    if (!Object.hasOwn(presets, preset)) {
      throw new InvalidArgumentError({
        argument: 'preset',
        message: `Unknown prompt preset "${preset}"; built-in presets: ${PRESET_NAMES.join(', ')}. Pass a preset object (definePreset) for your own prompts.`,
      });
    }
    return presets[preset];
  }
  return definePreset(preset);
}

/**
 * Builds a preset from a built-in one with some templates replaced, and validates all four templates
 * (every placeholder present, no unknown ones).
 *
 * @example
 * const mine = definePreset({ name: 'mine', base: 'paper', asr: 'Continue:\n{context}' });
 * @throws PromptTemplateError naming `<name>/<kind>`, the placeholder and the allowed set.
 */
export function definePreset(
  preset: Partial<PromptPreset> & { name: string; base?: PresetName | PromptPreset },
): PromptPreset {
  if (typeof preset !== 'object' || preset === null || typeof preset.name !== 'string' || !preset.name) {
    throw new InvalidArgumentError({
      argument: 'preset',
      message: 'A prompt preset needs a non-empty `name` (used in error messages).',
    });
  }
  const base = preset.base === undefined ? undefined : getPreset(preset.base);
  const templates = {} as Record<TemplateKind, string>;
  for (const kind of TEMPLATE_KINDS) {
    // Presets written before the next-token task get the paper's next-token prompt.
    const text = preset[kind] ?? base?.[kind] ?? (kind === 'nextToken' ? paperPreset.nextToken : undefined);
    if (text === undefined) {
      throw new InvalidArgumentError({
        argument: `preset.${kind}`,
        message: `Prompt preset "${preset.name}" has no ${kind} template; give one or a \`base\` preset (${PRESET_NAMES.join(', ')}).`,
      });
    }
    compileTemplate(text, { kind, name: `${preset.name}/${kind}` });
    templates[kind] = text;
  }
  return Object.freeze({ name: preset.name, ...templates });
}

/** Options of {@link loadPreset}. */
export interface LoadPresetOptions {
  /** Preset name for error messages (default `custom`). */
  name?: string;
  /** Preset the kinds without a file come from (default `paper`). */
  base?: PresetName | PromptPreset;
  /** Template files by kind, e.g. `{ asr: 'prompts/asr.txt' }`. */
  files: Partial<Record<TemplateKind, string>>;
}

/**
 * Builds a preset from template files (UTF-8, kept byte for byte), the other kinds from `base`. Each file
 * is validated for its kind, and errors name the file.
 *
 * @example
 * const preset = await loadPreset({ files: { asr: 'prompts/asr.txt', grmPrefix: 'prompts/judge.txt' } });
 * @throws InvalidArgumentError for an unknown kind or an unreadable file; PromptTemplateError for wrong placeholders.
 */
export async function loadPreset(options: LoadPresetOptions): Promise<PromptPreset> {
  const files = options?.files;
  if (typeof files !== 'object' || files === null) {
    throw new InvalidArgumentError({
      argument: 'files',
      message: `loadPreset needs \`files\`: template paths by kind (${TEMPLATE_KINDS.join(', ')}).`,
    });
  }
  const texts: Partial<Record<TemplateKind, string>> = {};
  for (const [kind, file] of Object.entries(files)) {
    if (!(TEMPLATE_KINDS as readonly string[]).includes(kind)) {
      throw new InvalidArgumentError({
        argument: `files.${kind}`,
        message: `Unknown template kind "${kind}" in preset files; expected ${TEMPLATE_KINDS.join(', ')}.`,
      });
    }
    if (file === undefined) continue;
    if (typeof file !== 'string') {
      throw new InvalidArgumentError({
        argument: `files.${kind}`,
        message: `files.${kind} must be a file path; got ${file === null ? 'null' : typeof file}.`,
      });
    }
    texts[kind as TemplateKind] = (await loadTemplate(file, { kind: kind as TemplateKind })).text;
  }
  return definePreset({ name: options.name ?? 'custom', base: options.base ?? 'paper', ...texts });
}
