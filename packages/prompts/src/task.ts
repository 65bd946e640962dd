import { InvalidArgumentError, type JudgeMode, type TaskKind } from '@rlpt/spec';

/** The tasks a policy prompt is rendered for: RLPT's ASR and MSR, and RPT's next token. */
export type PromptTask = TaskKind | 'next-token';
import type { ChatRenderOptions, ChatTemplate } from './chat.js';
import { getPreset, type PresetName, type PromptPreset } from './presets.js';
import { compileTemplate, type PromptTemplate, renderTemplate, type TemplateKind } from './template.js';

/** Options of {@link renderTaskPrompt} and {@link renderJudgePrompt}. */
export interface RenderPromptOptions {
  /** Built-in preset name or a preset object (see `definePreset`). Default `paper`. */
  preset?: PresetName | PromptPreset;
  /** Use this template (string or compiled) instead of the preset's; it is validated for the kind. */
  template?: string | PromptTemplate;
  /**
   * Wrap the rendered text as one user turn with this chat template (from `loadChatTemplate`, or
   * `rawChatTemplate`). Default: no chat template, the text as-is.
   */
  chatTemplate?: ChatTemplate;
  /** System message before the user turn (only with `chatTemplate`). */
  system?: string;
  /** Passed to the chat template's `render` (only with `chatTemplate`). */
  chatOptions?: ChatRenderOptions;
}

/** The sample fields a task prompt uses. A `SegmentSample` from `@rlpt/segment` fits as it is. */
export interface TaskPromptInput {
  /** s_<i. */
  context: string;
  /** s_{i+1}; required for MSR, ignored by ASR. */
  next?: string;
}

/** What a judge prompt compares. */
export interface JudgePromptInput {
  /** The reference: the window s_i, s_{i+1}, … for `prefix`, s_i for `strict`. */
  reference: string;
  /** The policy's extracted prediction (untrusted text; rendered literally). */
  predicted: string;
}

function requireString(value: unknown, argument: string, what: string): string {
  if (typeof value !== 'string') {
    throw new InvalidArgumentError({
      argument,
      message: `${what} must be a string; got ${value === null ? 'null' : typeof value}.`,
    });
  }
  return value;
}

function render(kind: TemplateKind, values: Record<string, string>, options: RenderPromptOptions): string {
  let text: string;
  if (options.template !== undefined) {
    text = renderTemplate(options.template, values, { kind });
  } else {
    const preset = getPreset(options.preset ?? 'paper');
    text = compileTemplate(preset[kind], { kind, name: `${preset.name}/${kind}` }).render(values);
  }
  if (options.chatTemplate === undefined) {
    if (options.system !== undefined || options.chatOptions !== undefined) {
      throw new InvalidArgumentError({
        argument: options.system !== undefined ? 'system' : 'chatOptions',
        message: '`system` and `chatOptions` need a `chatTemplate` (use rawChatTemplate for a base model).',
      });
    }
    return text;
  }
  return options.chatTemplate.renderPrompt(text, {
    ...options.chatOptions,
    ...(options.system === undefined ? {} : { system: options.system }),
  });
}

/**
 * Renders the policy prompt of one sample: ASR from `context`, MSR from `context` and `next` (mapped to
 * the templates' `{context}`, `{prompt}` and `{next_step}`). Values are inserted literally.
 *
 * @example
 * renderTaskPrompt('msr', { context: 'It rained.', next: 'The match was cancelled.' }, { preset: 'tiny' })
 * @throws InvalidArgumentError for an unknown task or a missing value; PromptTemplateError for a bad template.
 */
export function renderTaskPrompt(
  task: PromptTask,
  input: TaskPromptInput,
  options: RenderPromptOptions = {},
): string {
  if (typeof input !== 'object' || input === null) {
    throw new InvalidArgumentError({
      argument: 'input',
      message: 'renderTaskPrompt needs { context, next }.',
    });
  }
  const context = requireString(input.context, 'input.context', `The ${task} prompt's context (s_<i)`);
  if (task === 'asr') return render('asr', { context }, options);
  if (task === 'next-token') return render('nextToken', { context }, options);
  if (task === 'msr') {
    const next = requireString(
      input.next,
      'input.next',
      "The msr prompt's following segment `next` (s_{i+1})",
    );
    return render('msr', { prompt: context, next_step: next }, options);
  }
  throw new InvalidArgumentError({
    argument: 'task',
    message: `Unknown task "${String(task)}"; expected 'asr', 'msr' or 'next-token'.`,
  });
}

/**
 * Renders the generative judge's prompt: `prefix` (the paper's reward, `grmPrefix`) or `strict`
 * (`grmStrict`). The prediction is inserted literally, so text like `{reference}` inside it stays as is.
 *
 * @example
 * renderJudgePrompt('prefix', { reference: sample.reference, predicted: extraction.text })
 * @throws InvalidArgumentError for an unknown mode or a missing value; PromptTemplateError for a bad template.
 */
export function renderJudgePrompt(
  mode: JudgeMode,
  input: JudgePromptInput,
  options: RenderPromptOptions = {},
): string {
  if (typeof input !== 'object' || input === null) {
    throw new InvalidArgumentError({
      argument: 'input',
      message: 'renderJudgePrompt needs { reference, predicted }.',
    });
  }
  const reference = requireString(input.reference, 'input.reference', 'The judge reference');
  const predicted = requireString(input.predicted, 'input.predicted', 'The judged prediction');
  if (mode === 'prefix') return render('grmPrefix', { reference, predicted }, options);
  if (mode === 'strict') return render('grmStrict', { reference, predicted }, options);
  throw new InvalidArgumentError({
    argument: 'mode',
    message: `Unknown judge mode "${String(mode)}"; expected 'prefix' or 'strict'.`,
  });
}
