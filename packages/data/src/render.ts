import {
  type ChatTemplate,
  compileTemplate,
  getPreset,
  loadChatTemplate,
  loadPreset,
  type PresetName,
  PRESET_NAMES,
} from '@rlpt/prompts';
import { InvalidArgumentError } from '@rlpt/spec';
import type { SampleTask } from './process.js';
import type { TokenCounter } from './tokenizer.js';

/** Resolved prompt settings, plain data so they can be sent to worker threads. */
export interface PromptSetup {
  /** Preset name, or `custom` when template files were given. */
  preset: string;
  asrTemplate: string;
  msrTemplate: string;
  nextTokenTemplate: string;
  /** Model folder, `tokenizer_config.json` or `.jinja` file whose chat template wraps each prompt. */
  chatTemplate?: string;
  system?: string;
  enableThinking?: boolean;
}

/**
 * Resolves the template preset (and optional template files overriding its ASR/MSR prompts) and checks the
 * chat template loads, so a bad option fails before any work starts.
 */
export async function loadPromptSetup(options: {
  preset: string;
  asrTemplate?: string;
  msrTemplate?: string;
  chatTemplate?: string;
  system?: string;
  enableThinking?: boolean;
}): Promise<PromptSetup> {
  if (!PRESET_NAMES.includes(options.preset as PresetName)) {
    throw new InvalidArgumentError({
      argument: 'preset',
      message: `unknown template preset '${options.preset}'; use one of ${PRESET_NAMES.join(', ')}, or asrTemplate/msrTemplate files.`,
    });
  }
  const files: { asr?: string; msr?: string } = {};
  if (options.asrTemplate) files.asr = options.asrTemplate;
  if (options.msrTemplate) files.msr = options.msrTemplate;
  const preset =
    files.asr || files.msr
      ? await loadPreset({ files, base: options.preset as PresetName })
      : getPreset(options.preset as PresetName);
  const setup: PromptSetup = {
    preset: preset.name,
    asrTemplate: preset.asr,
    msrTemplate: preset.msr,
    nextTokenTemplate: preset.nextToken,
  };
  if (options.chatTemplate) {
    await loadChatTemplate(options.chatTemplate);
    setup.chatTemplate = options.chatTemplate;
  }
  if (options.system !== undefined) setup.system = options.system;
  if (options.enableThinking !== undefined) setup.enableThinking = options.enableThinking;
  return setup;
}

/** Renders prompts and knows each task's token overhead (the prompt minus its data). */
export interface PromptRenderer {
  render(task: SampleTask, context: string, next: string): { prompt: string; userPrompt?: string };
  /** Tokens of the prompt with empty context/next: template text, chat markup. */
  overhead(task: SampleTask): number;
}

/** Builds a renderer for one thread. */
export async function createPromptRenderer(
  setup: PromptSetup,
  counter: TokenCounter,
): Promise<PromptRenderer> {
  const asr = compileTemplate(setup.asrTemplate, { kind: 'asr', name: `${setup.preset}/asr` });
  const msr = compileTemplate(setup.msrTemplate, { kind: 'msr', name: `${setup.preset}/msr` });
  const nextToken = compileTemplate(setup.nextTokenTemplate, {
    kind: 'nextToken',
    name: `${setup.preset}/nextToken`,
  });
  const chat: ChatTemplate | undefined = setup.chatTemplate
    ? await loadChatTemplate(setup.chatTemplate)
    : undefined;
  const chatOptions = {
    ...(setup.system !== undefined ? { system: setup.system } : {}),
    ...(setup.enableThinking !== undefined ? { enableThinking: setup.enableThinking } : {}),
  };
  const render = (
    task: SampleTask,
    context: string,
    next: string,
  ): { prompt: string; userPrompt?: string } => {
    const userPrompt =
      task === 'asr'
        ? asr.render({ context })
        : task === 'next-token'
          ? nextToken.render({ context })
          : msr.render({ prompt: context, next_step: next });
    if (!chat) return { prompt: userPrompt };
    return { prompt: chat.renderPrompt(userPrompt, chatOptions), userPrompt };
  };
  const overheads = {
    asr: counter.count(render('asr', '', '').prompt),
    msr: counter.count(render('msr', '', '').prompt),
    'next-token': counter.count(render('next-token', '', '').prompt),
  };
  return { render, overhead: (task) => overheads[task] };
}
