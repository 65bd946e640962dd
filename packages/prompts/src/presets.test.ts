import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from '@rlpt/spec';
import { afterAll, describe, expect, it } from 'vitest';
import { extractPrediction, PREDICTION_END, PREDICTION_START } from './extract.js';
import {
  definePreset,
  getPreset,
  loadPreset,
  PRESET_NAMES,
  paperPreset,
  presets,
  tinyPreset,
} from './presets.js';
import { compileTemplate, PromptTemplateError, TEMPLATE_KINDS, TEMPLATE_PLACEHOLDERS } from './template.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const methodFile = path.resolve(repoRoot, '../shared/METHOD.md');
const hasMethod = existsSync(methodFile);

/** The fenced code block that follows the line starting with `label` in METHOD.md. */
function publishedBlock(markdown: string, label: string): string {
  const lines = markdown.split('\n');
  const labelIndex = lines.findIndex((line) => line.startsWith(label));
  if (labelIndex < 0) throw new Error(`METHOD.md has no line starting with "${label}"`);
  const open = lines.indexOf('```', labelIndex);
  const close = lines.indexOf('```', open + 1);
  if (open !== labelIndex + 1 || close < 0) throw new Error(`no code block right after "${label}"`);
  return lines.slice(open + 1, close).join('\n');
}

describe('paper preset', () => {
  it.skipIf(!hasMethod)(
    `matches ${methodFile} §3–4 byte for byte (ASR, MSR, GRM prefix; skipped if absent)`,
    () => {
      const markdown = readFileSync(methodFile, 'utf8');
      expect(paperPreset.asr).toBe(publishedBlock(markdown, 'ASR:'));
      expect(paperPreset.msr).toBe(publishedBlock(markdown, 'MSR:'));
      expect(paperPreset.grmPrefix).toBe(
        publishedBlock(markdown, 'GRM prompt (prefix reward) as published:'),
      );
    },
  );

  it('has the published shape even without METHOD.md: first and last lines, no trailing newline', () => {
    expect(paperPreset.asr.startsWith('Complete the text provided under ### Context')).toBe(true);
    expect(paperPreset.asr.endsWith('### Context\n\n{context}')).toBe(true);
    expect(paperPreset.msr.startsWith('## Text Material ##: {prompt}\n\n<MASK>\n\n{next_step}\n\n')).toBe(
      true,
    );
    expect(paperPreset.grmPrefix.endsWith('Output format (choose one):\n\nScore: 0\nor\nScore: 1')).toBe(
      true,
    );
  });

  it('has a strict judge prompt that keeps the prefix structure but drops "prefix"', () => {
    const strictLines = paperPreset.grmStrict.split('\n');
    const prefixLines = paperPreset.grmPrefix.split('\n');
    expect(strictLines.length).toBe(prefixLines.length);
    // Same skeleton: only the task sentences (lines 2–3) and the two scoring rules (13–14) differ.
    const differing = new Set([1, 2, 12, 13]);
    prefixLines.forEach((line, index) => {
      if (differing.has(index)) expect(strictLines[index]).not.toBe(line);
      else expect(strictLines[index]).toBe(line);
    });
    expect(paperPreset.grmStrict).not.toMatch(/prefix/i);
    expect(paperPreset.grmStrict).toMatch(/same semantic content as the Reference/);
  });

  it('asks the policy for the exact tags in both task prompts', () => {
    for (const preset of [paperPreset, tinyPreset]) {
      for (const kind of ['asr', 'msr'] as const) {
        expect(preset[kind]).toContain(PREDICTION_START);
        expect(preset[kind]).toContain(PREDICTION_END);
      }
      for (const kind of ['grmPrefix', 'grmStrict'] as const) {
        expect(preset[kind]).toContain('Score: 0');
        expect(preset[kind]).toContain('Score: 1');
      }
    }
  });
});

describe('built-in presets', () => {
  it('are all valid for their kinds and frozen', () => {
    expect(PRESET_NAMES).toEqual(Object.keys(presets));
    for (const name of PRESET_NAMES) {
      const preset = presets[name];
      expect(preset.name).toBe(name);
      expect(Object.isFrozen(preset)).toBe(true);
      for (const kind of TEMPLATE_KINDS) {
        const template = compileTemplate(preset[kind], { kind, name: `${name}/${kind}` });
        expect([...template.placeholders].sort()).toEqual([...TEMPLATE_PLACEHOLDERS[kind]].sort());
      }
    }
  });

  it('tiny is much shorter than paper: one instruction line, then the data', () => {
    for (const kind of TEMPLATE_KINDS) {
      expect(tinyPreset[kind].length).toBeLessThan(paperPreset[kind].length / 3);
      expect(tinyPreset[kind].split('\n')[0]).not.toMatch(/\{/);
    }
    const asr = compileTemplate(tinyPreset.asr, { kind: 'asr' }).render({ context: 'Mia has 4 apples .' });
    expect(asr.split('\n')).toHaveLength(2);
    expect(asr.endsWith('\nMia has 4 apples .')).toBe(true);
  });

  it('task prompts name both tags, so extraction must read the completion alone (documented caveat)', () => {
    expect(extractPrediction(paperPreset.asr)).toMatchObject({ status: 'ok', text: 'and' });
    expect(extractPrediction(tinyPreset.asr)).toMatchObject({ status: 'ok', text: 'sentence' });
  });
});

describe('getPreset and definePreset', () => {
  it('returns built-ins by name and rejects unknown names with the list', () => {
    expect(getPreset('paper')).toBe(paperPreset);
    expect(getPreset('tiny')).toBe(tinyPreset);
    expect(() => getPreset('papr' as 'paper')).toThrow(InvalidArgumentError);
    expect(() => getPreset('papr' as 'paper')).toThrow(/"papr".*paper, tiny/);
  });

  it('overrides some templates of a base preset', () => {
    const mine = definePreset({ name: 'mine', base: 'paper', asr: 'Continue:\n{context}' });
    expect(mine.asr).toBe('Continue:\n{context}');
    expect(mine.msr).toBe(paperPreset.msr);
    expect(mine.name).toBe('mine');
    expect(Object.isFrozen(mine)).toBe(true);
  });

  it('names the preset, the kind and the placeholder when a template is wrong', () => {
    let error: unknown;
    try {
      definePreset({ name: 'mine', base: 'tiny', msr: 'Fill: {prompt} <MASK> {next}' });
    } catch (caught) {
      error = caught;
    }
    expect(PromptTemplateError.isInstance(error)).toBe(true);
    const templateError = error as PromptTemplateError;
    expect(templateError.template).toBe('mine/msr');
    expect(templateError.unknown).toEqual(['next']);
    expect(templateError.missing).toEqual(['next_step']);
    expect(templateError.message).toContain('{next}');
    expect(templateError.message).toContain('{prompt}, {next_step}');
  });

  it('requires every template without a base', () => {
    expect(() => definePreset({ name: 'partial', asr: '{context}' })).toThrow(
      /"partial" has no msr template/,
    );
    expect(() => definePreset({ name: '' })).toThrow(/non-empty `name`/);
  });

  it("gives a preset written before the next-token task the paper's next-token prompt", () => {
    const old = definePreset({
      name: 'old',
      asr: '{context}',
      msr: '{prompt} {next_step}',
      grmPrefix: '{reference} {predicted}',
      grmStrict: '{reference} {predicted}',
    });
    expect(old.nextToken).toBe(paperPreset.nextToken);
    expect(definePreset({ name: 't', base: 'tiny' }).nextToken).toBe(tinyPreset.nextToken);
    expect(() => definePreset({ name: 'bad', base: 'paper', nextToken: '{reference}' })).toThrow(
      PromptTemplateError,
    );
  });
});

describe('loadPreset', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rlpt-preset-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string): string => {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  it('reads template files and takes the other kinds from the base (paper by default)', async () => {
    const asr = write('asr.txt', 'Continue the story:\n{context}\n');
    const preset = await loadPreset({ files: { asr } });
    expect(preset.name).toBe('custom');
    expect(preset.asr).toBe('Continue the story:\n{context}\n');
    expect(preset.msr).toBe(paperPreset.msr);
    const tiny = await loadPreset({
      name: 'mine',
      base: 'tiny',
      files: { grmStrict: write('s.txt', '{reference}|{predicted}') },
    });
    expect(tiny.grmStrict).toBe('{reference}|{predicted}');
    expect(tiny.asr).toBe(tinyPreset.asr);
  });

  it('names the file and the kind in errors', async () => {
    const bad = write('bad.txt', 'Text: {text}');
    const error = await loadPreset({ files: { msr: bad } }).catch((caught: unknown) => caught);
    expect((error as Error).message).toContain(`"${bad}" (msr)`);
    await expect(loadPreset({ files: { grm_prefix: bad } as never })).rejects.toThrow(
      /Unknown template kind "grm_prefix".*asr, msr, nextToken, grmPrefix, grmStrict/,
    );
    await expect(loadPreset({ files: { asr: path.join(dir, 'absent.txt') } })).rejects.toThrow(
      /no such file/,
    );
    await expect(loadPreset({} as never)).rejects.toThrow(/needs `files`/);
  });
});
