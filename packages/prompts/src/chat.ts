import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Template } from '@huggingface/jinja';
import { InvalidArgumentError, ModelLoadError } from '@rlpt/spec';

/** A special token as `tokenizer_config.json` writes it: a string, or an `AddedToken` object. */
export type SpecialTokenValue = string | { content: string; [key: string]: unknown } | null;

/** One entry of the list-of-named-templates form of `chat_template`. */
export interface NamedChatTemplate {
  name: string;
  template: string;
}

/** The fields of a Hugging Face `tokenizer_config.json` that chat templating reads; others are kept. */
export interface TokenizerConfig {
  chat_template?: string | NamedChatTemplate[] | null;
  bos_token?: SpecialTokenValue;
  eos_token?: SpecialTokenValue;
  unk_token?: SpecialTokenValue;
  sep_token?: SpecialTokenValue;
  pad_token?: SpecialTokenValue;
  cls_token?: SpecialTokenValue;
  mask_token?: SpecialTokenValue;
  additional_special_tokens?: SpecialTokenValue[];
  [key: string]: unknown;
}

/**
 * A chat message as chat templates read it: `role` and `content`, plus the optional fields common templates
 * use. `ChatMessage` from `@rlpt/spec` fits; any other fields of the objects you pass reach the template
 * untouched.
 */
export interface ChatTemplateMessage {
  role: string;
  content: string;
  /** Reasoning of an assistant turn (Qwen3 renders it inside `<think>` for the latest turn). */
  reasoning_content?: string | null;
  /** Tool calls of an assistant turn, in the OpenAI shape. */
  tool_calls?: readonly unknown[];
  /** Id of the call a `tool` message answers. */
  tool_call_id?: string;
  /** Tool or participant name. */
  name?: string;
}

/** Options of {@link ChatTemplate.render}. */
export interface ChatRenderOptions {
  /**
   * Append the header that opens the assistant's turn (`add_generation_prompt`). Default **true**, because
   * these prompts are for generation (Hugging Face's own default is false).
   */
  addGenerationPrompt?: boolean;
  /**
   * Leave the final message open so the model continues it (transformers' `continue_final_message`),
   * e.g. to prefill the start of an assistant answer: everything the template writes after the final
   * message's content is cut. Makes `addGenerationPrompt` default to false; both true is an error.
   */
  continueFinalMessage?: boolean;
  /**
   * `enable_thinking` for templates that read it (Qwen3: `false` appends an empty `<think>` block).
   * Default: not passed, so the template's own default applies.
   */
  enableThinking?: boolean;
  /** Tool (function) schemas, as `tools` (JSON-schema objects). Not supported in raw mode. */
  tools?: readonly unknown[];
  /** Documents for retrieval templates, as `documents`. Not supported in raw mode. */
  documents?: readonly unknown[];
  /**
   * Which template of a list-of-named-templates `chat_template` to use. Default: `tool_use` when `tools`
   * are given and the model has one, else `default`.
   */
  templateName?: string;
  /** Extra template variables (e.g. `reasoning_effort`); the options above take precedence. */
  variables?: Readonly<Record<string, unknown>>;
}

/** A model's chat template, ready to render; see {@link loadChatTemplate} and {@link rawChatTemplate}. */
export interface ChatTemplate {
  /** `jinja`: the model's template. `raw`: message contents as-is, for base models. */
  readonly mode: 'jinja' | 'raw';
  /** Where the template came from: a file path, `tokenizer config object`, or `raw`. */
  readonly source: string;
  /** Special tokens passed to the template (`bos_token`, `eos_token`, …), as strings. */
  readonly specialTokens: Readonly<Record<string, string>>;
  /** Names of the templates in a list-of-named-templates config; `['default']` for a single template. */
  readonly templateNames: readonly string[];
  /**
   * Renders messages to prompt text. Raw mode joins the contents with a blank line (`\n\n`) and ignores
   * `addGenerationPrompt`, `enableThinking` and `variables`.
   *
   * @throws InvalidArgumentError for malformed messages, an unknown `templateName`, or when the template
   *   rejects the conversation (its `raise_exception`) or fails to render.
   */
  render<Message extends ChatTemplateMessage>(
    messages: readonly Message[],
    options?: ChatRenderOptions,
  ): string;
  /** Renders one user turn, after an optional system message: `render([{system}, {user: text}], options)`. */
  renderPrompt(text: string, options?: ChatRenderOptions & { system?: string }): string;
}

/** Options of {@link loadChatTemplate} and {@link createChatTemplate}. */
export interface ChatTemplateOptions {
  /** Use this Jinja template instead of the config's `chat_template` (the config still supplies tokens). */
  chatTemplate?: string;
  /** When the model has no chat template: `error` (default) or `raw` (render as a base model). */
  ifMissing?: 'error' | 'raw';
}

const specialTokenKeys = [
  'bos_token',
  'eos_token',
  'unk_token',
  'sep_token',
  'pad_token',
  'cls_token',
  'mask_token',
] as const;

const compiledLimit = 64;
const compiled = new Map<string, Template>();

/** Parses a Jinja template once per distinct text (bounded cache; parsing is the slow part). */
function compileJinja(text: string, source: string, name: string): Template {
  const cached = compiled.get(text);
  if (cached) return cached;
  let template: Template;
  try {
    template = new Template(text);
  } catch (cause) {
    throw new ModelLoadError({
      path: source,
      message: `Cannot parse the chat template "${name}" from ${source}: ${errorMessage(cause)}. @huggingface/jinja supports the Jinja subset Hugging Face chat templates use; pass \`chatTemplate\` to override it.`,
      cause,
    });
  }
  if (compiled.size >= compiledLimit) compiled.delete(compiled.keys().next().value as string);
  compiled.set(text, template);
  return template;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function tokenText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { content?: unknown }).content === 'string'
  ) {
    return (value as { content: string }).content;
  }
  return undefined;
}

function readSpecialTokens(config: TokenizerConfig): Record<string, string> {
  const tokens: Record<string, string> = {};
  for (const key of specialTokenKeys) {
    const text = tokenText(config[key]);
    if (text !== undefined) tokens[key] = text;
  }
  return tokens;
}

function validateMessages(messages: readonly ChatTemplateMessage[], source: string): void {
  if (!Array.isArray(messages)) {
    throw new InvalidArgumentError({
      argument: 'messages',
      message: `Chat template (${source}) needs an array of messages; got ${messages === null ? 'null' : typeof messages}.`,
    });
  }
  if (messages.length === 0) {
    throw new InvalidArgumentError({
      argument: 'messages',
      message: `Chat template (${source}) needs at least one message; got an empty array.`,
    });
  }
  messages.forEach((message, index) => {
    if (typeof message !== 'object' || message === null) {
      throw new InvalidArgumentError({
        argument: `messages[${index}]`,
        message: `messages[${index}] must be an object { role, content }; got ${message === null ? 'null' : typeof message}.`,
      });
    }
    if (typeof message.role !== 'string' || message.role.length === 0) {
      throw new InvalidArgumentError({
        argument: `messages[${index}].role`,
        message: `messages[${index}].role must be a non-empty string such as 'system', 'user' or 'assistant'.`,
      });
    }
    if (typeof message.content !== 'string') {
      throw new InvalidArgumentError({
        argument: `messages[${index}].content`,
        message: `messages[${index}].content (role '${message.role}') must be a string; got ${message.content === null ? 'null' : typeof message.content}.`,
      });
    }
  });
}

function promptMessages(text: string, system: string | undefined): ChatTemplateMessage[] {
  return system === undefined
    ? [{ role: 'user', content: text }]
    : [
        { role: 'system', content: system },
        { role: 'user', content: text },
      ];
}

class JinjaChatTemplate implements ChatTemplate {
  readonly mode = 'jinja' as const;
  readonly source: string;
  readonly specialTokens: Readonly<Record<string, string>>;
  readonly templateNames: readonly string[];
  readonly #templates: ReadonlyMap<string, string>;

  constructor(templates: ReadonlyMap<string, string>, specialTokens: Record<string, string>, source: string) {
    this.source = source;
    this.specialTokens = Object.freeze({ ...specialTokens });
    this.templateNames = Object.freeze([...templates.keys()]);
    this.#templates = templates;
    // Parse every template now, so a broken one fails at load time, not mid-run.
    for (const [name, text] of templates) compileJinja(text, source, name);
  }

  #select(options: ChatRenderOptions): { name: string; text: string } {
    const names = this.templateNames.join(', ');
    if (options.templateName !== undefined) {
      const text = this.#templates.get(options.templateName);
      if (text === undefined) {
        throw new InvalidArgumentError({
          argument: 'templateName',
          message: `The chat template config ${this.source} has no template named "${options.templateName}"; it has: ${names}.`,
        });
      }
      return { name: options.templateName, text };
    }
    if (options.tools !== undefined && this.#templates.has('tool_use')) {
      return { name: 'tool_use', text: this.#templates.get('tool_use') as string };
    }
    const text = this.#templates.get('default');
    if (text === undefined) {
      throw new InvalidArgumentError({
        argument: 'templateName',
        message: `The chat template config ${this.source} has several templates (${names}) and none is named "default"; pass \`templateName\`.`,
      });
    }
    return { name: 'default', text };
  }

  render(messages: readonly ChatTemplateMessage[], options: ChatRenderOptions = {}): string {
    validateMessages(messages, this.source);
    const { name, text } = this.#select(options);
    const template = compileJinja(text, this.source, name);
    const context: Record<string, unknown> = { ...this.specialTokens, ...options.variables };
    const continueFinal = options.continueFinalMessage === true;
    if (continueFinal && options.addGenerationPrompt === true) {
      throw new InvalidArgumentError({
        argument: 'continueFinalMessage',
        message:
          'continueFinalMessage continues the final message, addGenerationPrompt opens a new assistant turn: pass only one.',
      });
    }
    context.messages = messages;
    context.add_generation_prompt = options.addGenerationPrompt ?? !continueFinal;
    if (options.enableThinking !== undefined) context.enable_thinking = options.enableThinking;
    if (options.tools !== undefined) context.tools = options.tools;
    if (options.documents !== undefined) context.documents = options.documents;
    let rendered: string;
    try {
      rendered = template.render(context);
    } catch (cause) {
      throw new InvalidArgumentError({
        argument: 'messages',
        message: `The chat template "${name}" from ${this.source} failed on these ${messages.length} message(s): ${errorMessage(cause)}`,
        cause,
      });
    }
    return continueFinal
      ? this.#cutAfterFinal(rendered, (messages.at(-1) as ChatTemplateMessage).content)
      : rendered;
  }

  /** transformers' `continue_final_message`: cut after the last occurrence of the final content. */
  #cutAfterFinal(rendered: string, finalContent: string): string {
    const stripped = finalContent.trim();
    const location = rendered.lastIndexOf(stripped);
    if (stripped.length === 0 || location < 0) {
      throw new InvalidArgumentError({
        argument: 'continueFinalMessage',
        message: `continueFinalMessage: the final message's content does not appear in the output of the chat template from ${this.source}${stripped.length === 0 ? ' (it is empty)' : ''}, so it cannot be continued.`,
      });
    }
    // Same rule as transformers: keep trailing whitespace only when the template kept the content intact.
    const leftStrippedLength = finalContent.trimStart().length;
    const end =
      rendered.slice(location, location + leftStrippedLength) === finalContent
        ? location + leftStrippedLength
        : location + stripped.length;
    return rendered.slice(0, end);
  }

  renderPrompt(text: string, options: ChatRenderOptions & { system?: string } = {}): string {
    const { system, ...renderOptions } = options;
    return this.render(promptMessages(text, system), renderOptions);
  }
}

/**
 * Raw mode for base models: no chat markup. A single message renders as its content exactly; several
 * messages render as their contents joined by a blank line. `tools` and `documents` are refused (they
 * would be dropped silently).
 */
export const rawChatTemplate: ChatTemplate = Object.freeze({
  mode: 'raw' as const,
  source: 'raw',
  specialTokens: Object.freeze({}),
  templateNames: Object.freeze([]),
  render(messages: readonly ChatTemplateMessage[], options: ChatRenderOptions = {}): string {
    validateMessages(messages, 'raw');
    for (const option of ['tools', 'documents'] as const) {
      if (options[option] !== undefined) {
        throw new InvalidArgumentError({
          argument: option,
          message: `Raw chat mode (base model, no chat template) cannot render \`${option}\`; load the model's chat template instead.`,
        });
      }
    }
    return messages.map((message) => message.content).join('\n\n');
  },
  renderPrompt(text: string, options: ChatRenderOptions & { system?: string } = {}): string {
    const { system, ...renderOptions } = options;
    return rawChatTemplate.render(promptMessages(text, system), renderOptions);
  },
});

function templatesFrom(chatTemplate: unknown, source: string): Map<string, string> | undefined {
  if (chatTemplate === undefined || chatTemplate === null) return undefined;
  if (typeof chatTemplate === 'string') return new Map([['default', chatTemplate]]);
  if (Array.isArray(chatTemplate)) {
    const templates = new Map<string, string>();
    chatTemplate.forEach((entry, index) => {
      const { name, template } = (entry ?? {}) as Partial<NamedChatTemplate>;
      if (typeof name !== 'string' || typeof template !== 'string') {
        throw new ModelLoadError({
          path: source,
          message: `chat_template[${index}] in ${source} must be { "name": string, "template": string }.`,
        });
      }
      templates.set(name, template);
    });
    if (templates.size === 0) return undefined;
    return templates;
  }
  throw new ModelLoadError({
    path: source,
    message: `chat_template in ${source} must be a string or a list of { name, template }; got ${typeof chatTemplate}.`,
  });
}

/**
 * Builds a chat template from a `tokenizer_config.json` object (already parsed). Synchronous; use
 * {@link loadChatTemplate} for a model folder or file.
 *
 * @param source Name used in error messages (default `tokenizer config object`).
 * @throws ModelLoadError when the config has no usable template (unless `ifMissing: 'raw'`) or it does not parse.
 */
export function createChatTemplate(
  config: TokenizerConfig,
  options: ChatTemplateOptions & { source?: string } = {},
): ChatTemplate {
  const source = options.source ?? 'tokenizer config object';
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new InvalidArgumentError({
      argument: 'config',
      message: `A tokenizer config (${source}) must be an object as in tokenizer_config.json.`,
    });
  }
  const templates = templatesFrom(options.chatTemplate ?? config.chat_template, source);
  if (templates === undefined) {
    if (options.ifMissing === 'raw') return rawChatTemplate;
    throw new ModelLoadError({
      path: source,
      message: `${source} has no chat_template. For a base model use raw mode (rawChatTemplate, or ifMissing: 'raw'); otherwise pass chatTemplate.`,
    });
  }
  return new JinjaChatTemplate(templates, readSpecialTokens(config), source);
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ModelLoadError({ path: file, message: `Cannot read ${file}: ${errorMessage(cause)}`, cause });
  }
}

function parseJson(text: string, file: string): TokenizerConfig {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new ModelLoadError({
      path: file,
      message: `${file} is not valid JSON: ${errorMessage(cause)}`,
      cause,
    });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ModelLoadError({ path: file, message: `${file} must contain a JSON object.` });
  }
  return value as TokenizerConfig;
}

/**
 * Loads a model's chat template from a model folder, a `tokenizer_config.json` (or `chat_template.json`,
 * or `.jinja`) file, or a config object.
 *
 * In a folder, the template comes from `chat_template.jinja` if present (newer transformers), else
 * `tokenizer_config.json`'s `chat_template`, else `chat_template.json`; special tokens come from
 * `tokenizer_config.json` (for a `.jinja` file, the one beside it). Files are read on each call; parsed templates are cached by their text.
 *
 * @example
 * const chat = await loadChatTemplate('models/qwen3');
 * chat.renderPrompt('Hello', { enableThinking: false });
 * @throws ModelLoadError naming the path when nothing usable is found or a file is malformed.
 */
export async function loadChatTemplate(
  source: string | TokenizerConfig,
  options: ChatTemplateOptions = {},
): Promise<ChatTemplate> {
  if (typeof source !== 'string') return createChatTemplate(source, options);
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(source)).isDirectory();
  } catch (cause) {
    throw new ModelLoadError({
      path: source,
      message: `Cannot load a chat template from ${source}: ${(cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or folder' : errorMessage(cause)}. Give a model folder or its tokenizer_config.json.`,
      cause,
    });
  }
  if (!isDirectory) {
    const text = (await readOptional(source)) ?? '';
    if (source.endsWith('.jinja')) {
      // Special tokens come from a tokenizer_config.json beside the template, when there is one.
      const siblingFile = path.join(path.dirname(source), 'tokenizer_config.json');
      const siblingText = await readOptional(siblingFile);
      const tokens = siblingText === undefined ? {} : parseJson(siblingText, siblingFile);
      return createChatTemplate(tokens, { ...options, chatTemplate: options.chatTemplate ?? text, source });
    }
    return createChatTemplate(parseJson(text, source), { ...options, source });
  }
  const configFile = path.join(source, 'tokenizer_config.json');
  const jinjaFile = path.join(source, 'chat_template.jinja');
  const jsonFile = path.join(source, 'chat_template.json');
  const configText = await readOptional(configFile);
  const config = configText === undefined ? {} : parseJson(configText, configFile);
  if (options.chatTemplate !== undefined) {
    return createChatTemplate(config, {
      ...options,
      source: `chatTemplate option (tokens from ${configFile})`,
    });
  }
  const jinjaText = await readOptional(jinjaFile);
  if (jinjaText !== undefined)
    return createChatTemplate(config, { ...options, chatTemplate: jinjaText, source: jinjaFile });
  if (config.chat_template !== undefined && config.chat_template !== null) {
    return createChatTemplate(config, { ...options, source: configFile });
  }
  const jsonText = await readOptional(jsonFile);
  if (jsonText !== undefined) {
    const templateConfig = parseJson(jsonText, jsonFile);
    return createChatTemplate(
      { ...config, chat_template: templateConfig.chat_template },
      { ...options, source: jsonFile },
    );
  }
  if (options.ifMissing === 'raw') return rawChatTemplate;
  throw new ModelLoadError({
    path: source,
    message:
      configText === undefined
        ? `${source} has none of tokenizer_config.json, chat_template.jinja, chat_template.json. Is it a Hugging Face model folder?`
        : `${source} has no chat template (no chat_template in tokenizer_config.json, no chat_template.jinja or chat_template.json). For a base model use raw mode (ifMissing: 'raw').`,
  });
}
