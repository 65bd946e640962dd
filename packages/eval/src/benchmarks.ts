/**
 * The paper's benchmarks (plus GSM8K): where their files are, how their fields map to an item, how an
 * item is prompted and graded.
 */
import path from 'node:path';
import { type ChatMessage, type EventHandler, InvalidArgumentError, InvalidInputError } from '@rlpt/spec';
import {
  type ReadOptions,
  type SourceRecord,
  exists,
  isDirectory,
  listRecordFiles,
  readRecordFile,
} from './io/records.js';
import { lastBoxed } from './math/extract.js';

/** How an item's responses are graded. */
export type GradingKind = 'math' | 'multiple-choice' | 'bracket';

/** One benchmark question. */
export interface BenchmarkItem {
  /** Stable id (from the file where it has one), unique within the benchmark. */
  id: string;
  /** The question as shown to the model (without options). */
  question: string;
  /** Gold: a LaTeX answer (math), an option letter (multiple choice), or a `[[…]]` answer text (KOR-Bench). */
  answer: string;
  /** Options in presented order (multiple choice). */
  choices?: string[];
  /** OlympiadBench: several gold answers, all required (any order). */
  multipleAnswers?: boolean;
  /** OlympiadBench: the unit the answer is given in, not part of the gold. */
  unit?: string;
  /** Extra prompt text shown before the question (KOR-Bench rules, OlympiadBench context). */
  context?: string;
  /** Source fields worth keeping (subject, level, category, permutation, …). */
  metadata: Record<string, unknown>;
}

/** A loaded benchmark. */
export interface Benchmark {
  /** Canonical name, e.g. `aime24`, `mmlu-pro`. */
  name: string;
  /** Name as the paper writes it, e.g. `AIME24`, `MMLU-Pro`. */
  title: string;
  grading: GradingKind;
  /** `pass@k` for math benchmarks, `accuracy` for the general ones (the paper's Table 1 split). */
  metric: 'pass@k' | 'accuracy';
  items: BenchmarkItem[];
  /** Files read. */
  files: string[];
  /** Records skipped as malformed (each reported through `onEvent`). */
  skipped: number;
  /** Seed of the option shuffle (GPQA-Diamond). */
  shuffleSeed?: number;
}

interface MapContext {
  index: number;
  source: SourceRecord;
  seed: number;
}

interface BenchmarkDefinition {
  name: string;
  title: string;
  grading: GradingKind;
  metric: 'pass@k' | 'accuracy';
  /** File or folder names tried under a data directory, in order. */
  aliases: string[];
  read?: ReadOptions;
  /** Maps one record to an item; throws InvalidInputError (reason, message) for a bad record. */
  map(record: Record<string, unknown>, context: MapContext): BenchmarkItem;
  /** Post-processing over all records (KOR-Bench joins rules). */
  finish?(items: BenchmarkItem[], records: SourceRecord[]): BenchmarkItem[];
}

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** Case-insensitive field lookup over several candidate names. */
function pick(record: Record<string, unknown>, names: string[]): unknown {
  for (const name of names) {
    if (record[name] !== undefined && record[name] !== null) return record[name];
  }
  const lower = new Map(Object.keys(record).map((key) => [key.toLowerCase(), key]));
  for (const name of names) {
    const key = lower.get(name.toLowerCase());
    if (key !== undefined && record[key] !== undefined && record[key] !== null) return record[key];
  }
  return undefined;
}

function badRecord(context: MapContext, reason: string, detail: string): InvalidInputError {
  const { file, line } = context.source;
  return new InvalidInputError({
    reason,
    message: `${file}:${line}: ${detail}; the record is skipped.`,
    location: { file, line },
  });
}

function requireText(
  record: Record<string, unknown>,
  names: string[],
  context: MapContext,
  what: string,
): string {
  const value = pick(record, names);
  if (typeof value === 'string' && value.trim().length > 0) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return formatNumber(value);
  throw badRecord(
    context,
    'missing-field',
    `no ${what} (looked for ${names.map((name) => `'${name}'`).join(', ')})`,
  );
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : String(value);
}

function idOf(record: Record<string, unknown>, names: string[], context: MapContext): string {
  const value = pick(record, names);
  if (typeof value === 'string' && value.trim()) return value.trim();
  if (typeof value === 'number') return String(value);
  return String(context.index);
}

function stringList(value: unknown): string[] | null {
  if (Array.isArray(value)) return value.map((item) => String(item));
  if (typeof value === 'string') {
    // Some exports store lists as JSON text.
    const trimmed = value.trim();
    if (trimmed.startsWith('[')) {
      try {
        const parsed: unknown = JSON.parse(trimmed);
        if (Array.isArray(parsed)) return parsed.map((item) => String(item));
      } catch {
        return null;
      }
    }
  }
  return null;
}

/** An answer given as a letter or an index → the letter. */
function answerLetter(value: unknown, count: number, context: MapContext): string {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < count)
    return LETTERS[value]!;
  if (typeof value === 'string') {
    const trimmed = value.trim().toUpperCase();
    if (/^[A-Z]$/.test(trimmed) && LETTERS.indexOf(trimmed) < count) return trimmed;
    if (/^[0-9]+$/.test(trimmed) && Number(trimmed) < count) return LETTERS[Number(trimmed)]!;
  }
  throw badRecord(
    context,
    'bad-answer',
    `answer ${JSON.stringify(value)} is not an option letter or index for ${count} options`,
  );
}

function mathItem(
  record: Record<string, unknown>,
  context: MapContext,
  fields: { question: string[]; answer?: string[]; solution?: string[]; id: string[] },
  metadataFields: string[] = [],
): BenchmarkItem {
  const question = requireText(record, fields.question, context, 'question');
  let answer: string | undefined;
  const direct = fields.answer ? pick(record, fields.answer) : undefined;
  if (typeof direct === 'string' && direct.trim()) answer = direct.trim();
  else if (typeof direct === 'number' && Number.isFinite(direct)) answer = formatNumber(direct);
  if (answer === undefined && fields.solution) {
    const solution = pick(record, fields.solution);
    if (typeof solution === 'string') answer = lastBoxed(solution) ?? undefined;
  }
  if (answer === undefined)
    throw badRecord(context, 'missing-answer', 'no answer (and no \\boxed{} answer in the solution)');
  return {
    id: idOf(record, fields.id, context),
    question,
    answer,
    metadata: metadataOf(record, metadataFields),
  };
}

function metadataOf(record: Record<string, unknown>, fields: string[]): Record<string, unknown> {
  const metadata: Record<string, unknown> = {};
  for (const field of fields) {
    const value = pick(record, [field]);
    if (value !== undefined) metadata[field] = value;
  }
  return metadata;
}

function choiceItem(
  record: Record<string, unknown>,
  context: MapContext,
  fields: { question: string[]; choices: string[]; answer: string[]; id: string[] },
  metadataFields: string[],
  dropOptions: (option: string) => boolean = () => false,
): BenchmarkItem {
  const question = requireText(record, fields.question, context, 'question');
  let choices = stringList(pick(record, fields.choices));
  if (!choices) {
    // Column-per-option layouts (MMLU CSV: A, B, C, D).
    const columns = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J'].filter(
      (letter) => record[letter] !== undefined,
    );
    if (columns.length >= 2) choices = columns.map((letter) => String(record[letter]));
  }
  if (!choices || choices.length < 2) throw badRecord(context, 'missing-choices', 'no list of options');
  const rawAnswer = pick(record, fields.answer);
  let answer = answerLetter(rawAnswer, choices.length, context);
  const kept = choices
    .map((choice, index) => ({ choice, index }))
    .filter(({ choice }) => !dropOptions(choice));
  if (kept.length !== choices.length) {
    const goldIndex = kept.findIndex(({ index }) => LETTERS[index] === answer);
    if (goldIndex < 0) throw badRecord(context, 'bad-answer', 'the gold option was dropped as padding');
    answer = LETTERS[goldIndex]!;
    choices = kept.map(({ choice }) => choice);
  }
  return {
    id: idOf(record, fields.id, context),
    question,
    answer,
    choices,
    metadata: metadataOf(record, metadataFields),
  };
}

/** mulberry32 over a string hash: a small, reproducible PRNG for option shuffles. */
function seededRandom(seedText: string): () => number {
  let hash = 2166136261;
  for (let index = 0; index < seedText.length; index++) {
    hash ^= seedText.charCodeAt(index);
    hash = Math.imul(hash, 16777619);
  }
  let state = hash >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates permutation of 0…n−1 from a seed and an item id (the same every run). */
export function shufflePermutation(count: number, seed: number, id: string): number[] {
  const random = seededRandom(`${seed}:${id}`);
  const order = Array.from({ length: count }, (_, index) => index);
  for (let index = count - 1; index > 0; index--) {
    const swap = Math.floor(random() * (index + 1));
    [order[index], order[swap]] = [order[swap]!, order[index]!];
  }
  return order;
}

const MMLU_COLUMNS = ['question', 'A', 'B', 'C', 'D', 'answer'];

const DEFINITIONS: BenchmarkDefinition[] = [
  {
    name: 'mmlu',
    title: 'MMLU',
    grading: 'multiple-choice',
    metric: 'accuracy',
    aliases: ['mmlu', 'MMLU', 'mmlu_test', 'cais_mmlu'],
    read: {
      csvColumns: MMLU_COLUMNS,
      csvHasHeader: (row) => row[0]?.trim().toLowerCase() === 'question' || row[0]?.trim() === '',
    },
    map: (record, context) => {
      const item = choiceItem(
        record,
        context,
        { question: ['question'], choices: ['choices'], answer: ['answer'], id: ['id'] },
        ['subject'],
      );
      if (item.metadata.subject === undefined) {
        // Hendrycks' CSVs are named <subject>_test.csv.
        const base = path.basename(context.source.file).replace(/_(?:test|val|dev)\.csv$/i, '');
        if (base !== path.basename(context.source.file)) item.metadata.subject = base;
      }
      if (pick(record, ['id']) === undefined)
        item.id = `${item.metadata.subject ?? path.basename(context.source.file)}-${context.source.line}`;
      return item;
    },
  },
  {
    name: 'mmlu-stem',
    title: 'MMLU-STEM',
    grading: 'multiple-choice',
    metric: 'accuracy',
    aliases: ['mmlu_stem', 'mmlu-stem'],
    map: (record, context) =>
      choiceItem(
        record,
        context,
        { question: ['question'], choices: ['choices'], answer: ['answer'], id: ['id'] },
        ['type', 'subject'],
      ),
  },
  {
    name: 'mmlu-pro',
    title: 'MMLU-Pro',
    grading: 'multiple-choice',
    metric: 'accuracy',
    aliases: ['mmlu_pro', 'mmlu-pro', 'MMLU-Pro', 'mmlupro'],
    map: (record, context) =>
      choiceItem(
        record,
        context,
        {
          question: ['question'],
          choices: ['options'],
          answer: ['answer', 'answer_index'],
          id: ['question_id', 'id'],
        },
        ['category', 'src'],
        // MMLU-Pro pads some questions with "N/A" options; its official harness drops them.
        (option) => option.trim() === 'N/A',
      ),
  },
  {
    name: 'gpqa-diamond',
    title: 'GPQA-Diamond',
    grading: 'multiple-choice',
    metric: 'accuracy',
    aliases: ['gpqa_diamond', 'gpqa-diamond', 'GPQA-Diamond', 'gpqa/gpqa_diamond', 'gpqa'],
    map: (record, context) => {
      const question = requireText(record, ['Question', 'question'], context, 'question');
      const correct = requireText(record, ['Correct Answer', 'correct_answer'], context, 'correct answer');
      const incorrect = [1, 2, 3].map((index) =>
        requireText(
          record,
          [`Incorrect Answer ${index}`, `incorrect_answer_${index}`],
          context,
          `incorrect answer ${index}`,
        ),
      );
      const id = idOf(record, ['Record ID', 'record_id', 'id'], context);
      const original = [correct, ...incorrect].map((choice) => choice.trim());
      const permutation = shufflePermutation(4, context.seed, id);
      const choices = permutation.map((index) => original[index]!);
      return {
        id,
        question: question.trim(),
        answer: LETTERS[permutation.indexOf(0)]!,
        choices,
        metadata: { ...metadataOf(record, ['High-level domain', 'Subdomain']), permutation },
      };
    },
  },
  {
    name: 'supergpqa',
    title: 'SuperGPQA',
    grading: 'multiple-choice',
    metric: 'accuracy',
    aliases: ['supergpqa', 'SuperGPQA', 'super_gpqa', 'SuperGPQA-all'],
    map: (record, context) =>
      choiceItem(
        record,
        context,
        { question: ['question'], choices: ['options'], answer: ['answer_letter'], id: ['uuid', 'id'] },
        ['discipline', 'field', 'subfield', 'difficulty', 'is_calculation'],
      ),
  },
  {
    name: 'kor-bench',
    title: 'KOR-Bench',
    grading: 'bracket',
    metric: 'accuracy',
    aliases: ['kor_bench', 'kor-bench', 'KOR-Bench', 'korbench'],
    map: (record, context) => {
      if (pick(record, ['rule_content']) !== undefined && pick(record, ['question']) === undefined) {
        // A rule record (rule.json): kept for `finish`, not an item.
        throw badRecord(context, 'kor-rule', 'rule record');
      }
      const question = requireText(record, ['question'], context, 'question');
      const answer = requireText(record, ['answer'], context, 'answer');
      const category = path.basename(path.dirname(context.source.file));
      const idx = idOf(record, ['idx', 'id'], context);
      return {
        id: `${category}-${idx}`,
        question,
        answer,
        metadata: { category, ruleId: pick(record, ['rule_id']), idx },
      };
    },
    finish: (items, records) => {
      // Rules live in rule.json next to sample.json: [{ idx, rule_content }].
      const rules = new Map<string, string>();
      for (const { record, file } of records) {
        const content = pick(record, ['rule_content']);
        if (typeof content === 'string')
          rules.set(
            `${path.basename(path.dirname(file))}:${String(pick(record, ['idx', 'rule_id']))}`,
            content,
          );
      }
      return items.map((item) => {
        const rule = rules.get(`${String(item.metadata.category)}:${String(item.metadata.ruleId)}`);
        return rule ? { ...item, context: rule } : item;
      });
    },
  },
  {
    name: 'olympiadbench',
    title: 'OlympiadBench',
    grading: 'math',
    metric: 'accuracy',
    aliases: ['olympiadbench', 'OlympiadBench', 'olympiad_bench'],
    map: (record, context) => {
      const question = requireText(record, ['question'], context, 'question');
      const finals = stringList(pick(record, ['final_answer', 'answer']));
      if (!finals || finals.length === 0 || finals.every((answer) => !answer.trim()))
        throw badRecord(context, 'missing-answer', 'no final_answer');
      const answers = finals.map((answer) => answer.trim()).filter(Boolean);
      const unit = pick(record, ['unit']);
      const contextText = pick(record, ['context']);
      return {
        id: idOf(record, ['id'], context),
        question,
        answer: answers.join(', '),
        multipleAnswers: pick(record, ['is_multiple_answer']) === true || answers.length > 1,
        ...(typeof unit === 'string' && unit.trim() ? { unit: unit.trim() } : {}),
        ...(typeof contextText === 'string' && contextText.trim() ? { context: contextText.trim() } : {}),
        metadata: metadataOf(record, ['subfield', 'subject', 'answer_type', 'error', 'language', 'modality']),
      };
    },
  },
  {
    name: 'math-500',
    title: 'MATH-500',
    grading: 'math',
    metric: 'pass@k',
    aliases: ['math500', 'math_500', 'math-500', 'MATH-500'],
    map: (record, context) =>
      mathItem(
        record,
        context,
        {
          question: ['problem', 'question'],
          answer: ['answer'],
          solution: ['solution'],
          id: ['unique_id', 'id', 'idx'],
        },
        ['subject', 'level'],
      ),
  },
  {
    name: 'amc23',
    title: 'AMC23',
    grading: 'math',
    metric: 'pass@k',
    aliases: ['amc23', 'amc_2023', 'amc2023'],
    map: (record, context) =>
      mathItem(
        record,
        context,
        { question: ['problem', 'question'], answer: ['answer'], id: ['id', 'idx'] },
        ['url'],
      ),
  },
  {
    name: 'minerva-math',
    title: 'Minerva',
    grading: 'math',
    metric: 'pass@k',
    aliases: ['minerva_math', 'minerva-math', 'minerva'],
    map: (record, context) =>
      mathItem(
        record,
        context,
        { question: ['problem', 'question'], answer: ['answer'], solution: ['solution'], id: ['idx', 'id'] },
        ['type'],
      ),
  },
  {
    name: 'aime24',
    title: 'AIME24',
    grading: 'math',
    metric: 'pass@k',
    aliases: ['aime24', 'aime_2024', 'aime2024', 'AIME_2024'],
    map: (record, context) =>
      mathItem(
        record,
        context,
        {
          question: ['problem', 'question'],
          answer: ['answer'],
          solution: ['solution'],
          id: ['id', 'ID', 'idx'],
        },
        ['url'],
      ),
  },
  {
    name: 'aime25',
    title: 'AIME25',
    grading: 'math',
    metric: 'pass@k',
    aliases: ['aime25', 'aime_2025', 'aime2025', 'AIME2025', 'AIME_2025'],
    map: (record, context) =>
      mathItem(
        record,
        context,
        {
          question: ['problem', 'question'],
          answer: ['answer'],
          solution: ['solution'],
          id: ['id', 'ID', 'idx'],
        },
        ['url', 'year'],
      ),
  },
  {
    name: 'gsm8k',
    title: 'GSM8K',
    grading: 'math',
    metric: 'pass@k',
    aliases: ['gsm8k', 'GSM8K', 'gsm8k/test'],
    map: (record, context) => {
      const question = requireText(record, ['question'], context, 'question');
      const solution = requireText(record, ['answer'], context, 'answer');
      const marker = solution.lastIndexOf('####');
      const answer =
        marker >= 0
          ? solution
              .slice(marker + 4)
              .trim()
              .replace(/,/g, '')
          : '';
      if (!answer)
        throw badRecord(context, 'missing-answer', "the answer field has no '#### N' final answer");
      return { id: idOf(record, ['idx', 'id'], context), question, answer, metadata: {} };
    },
  },
];

/** Names accepted by {@link loadBenchmark}, in the paper's table order. */
export const BENCHMARK_NAMES: readonly string[] = DEFINITIONS.map((definition) => definition.name);

function definitionOf(name: string): BenchmarkDefinition {
  const wanted = name.trim().toLowerCase().replace(/_/g, '-');
  const definition = DEFINITIONS.find(
    (candidate) =>
      candidate.name === wanted ||
      candidate.aliases.some((alias) => alias.toLowerCase().replace(/_/g, '-') === wanted),
  );
  if (!definition) {
    throw new InvalidArgumentError({
      argument: 'benchmark',
      message: `Unknown benchmark '${name}'. Known: ${BENCHMARK_NAMES.join(', ')}.`,
    });
  }
  return definition;
}

/** Display facts about a benchmark without loading it. */
export function benchmarkInfo(name: string): {
  name: string;
  title: string;
  grading: GradingKind;
  metric: 'pass@k' | 'accuracy';
} {
  const { name: canonical, title, grading, metric } = definitionOf(name);
  return { name: canonical, title, grading, metric };
}

/** Options of {@link loadBenchmark}. */
export interface LoadBenchmarkOptions {
  /** A file (JSONL, JSON, CSV, Parquet) or a folder of them. Takes precedence over `dataDir`. */
  path?: string;
  /** A folder holding benchmark files under their usual names (`aime24.jsonl`, `mmlu_pro/…`, `gpqa_diamond.csv`). */
  dataDir?: string;
  /** Keep only the first N items. */
  limit?: number;
  /** Seed for option shuffles (GPQA-Diamond). Default 0. */
  seed?: number;
  /** Receives a `skipped-input` event per malformed record. */
  onEvent?: EventHandler;
}

const EXTENSIONS = ['.jsonl', '.json', '.parquet', '.csv'];

async function locate(definition: BenchmarkDefinition, dataDir: string): Promise<string | null> {
  for (const alias of definition.aliases) {
    for (const extension of EXTENSIONS) {
      const file = path.join(dataDir, `${alias}${extension}`);
      if (await exists(file)) return file;
    }
    const folder = path.join(dataDir, alias);
    if (await isDirectory(folder)) return folder;
  }
  return null;
}

/** Files of a folder, preferring test splits (`test.jsonl`, `data/test-*.parquet`, `test/*.csv`). */
async function filesOf(target: string): Promise<string[]> {
  if (!(await isDirectory(target))) return [target];
  const all = await listRecordFiles(target);
  const testFiles = all.filter((file) =>
    /(?:^|[/\\_-])test(?:[/\\_.-]|$)/i.test(path.relative(target, file)),
  );
  return testFiles.length > 0 ? testFiles : all;
}

/**
 * Loads one benchmark from a file or folder. Malformed records are reported (`skipped-input`) and
 * counted in `skipped`; a missing file or an empty result is an error naming what was looked for.
 */
export async function loadBenchmark(name: string, options: LoadBenchmarkOptions = {}): Promise<Benchmark> {
  const definition = definitionOf(name);
  let target = options.path;
  if (!target) {
    if (!options.dataDir) {
      throw new InvalidArgumentError({
        argument: 'path',
        message: `loadBenchmark('${definition.name}'): give a file path or a data directory.`,
      });
    }
    target = (await locate(definition, options.dataDir)) ?? undefined;
    if (!target) {
      const tried = definition.aliases.map((alias) => `${alias}{${EXTENSIONS.join(',')}}`).join(', ');
      throw new InvalidInputError({
        reason: 'benchmark-not-found',
        message: `${definition.title}: no file found in ${options.dataDir} (looked for ${tried} and folders of those names). Download it from its publisher and pass --data-dir or a path.`,
        location: { file: options.dataDir },
      });
    }
  } else if (!(await exists(target))) {
    throw new InvalidInputError({
      reason: 'benchmark-not-found',
      message: `${definition.title}: ${target} does not exist.`,
      location: { file: target },
    });
  }
  const seed = options.seed ?? 0;
  const files = await filesOf(target);
  const items: BenchmarkItem[] = [];
  const allRecords: SourceRecord[] = [];
  const seen = new Set<string>();
  let skipped = 0;
  const report = (error: InvalidInputError) => {
    skipped++;
    options.onEvent?.({
      type: 'skipped-input',
      reason: error.reason,
      message: error.message,
      ...(error.location.file !== undefined ? { file: error.location.file } : {}),
      ...(error.location.line !== undefined ? { line: error.location.line } : {}),
    });
  };
  for (const file of files) {
    const { records, problems } = await readRecordFile(file, definition.read);
    problems.forEach(report);
    for (const source of records) {
      allRecords.push(source);
      try {
        const item = definition.map(source.record, { index: items.length, source, seed });
        if (seen.has(item.id)) item.id = `${item.id}#${items.length}`;
        seen.add(item.id);
        items.push(item);
      } catch (error) {
        if (InvalidInputError.isInstance(error) && error.reason === 'kor-rule') continue;
        if (InvalidInputError.isInstance(error)) report(error);
        else throw error;
      }
    }
  }
  const finished = definition.finish ? definition.finish(items, allRecords) : items;
  if (finished.length === 0) {
    throw new InvalidInputError({
      reason: 'empty-benchmark',
      message: `${definition.title}: no usable items in ${files.join(', ')} (${skipped} records skipped). Check that this is the ${definition.title} file.`,
      location: { file: target },
    });
  }
  const limited = options.limit !== undefined ? finished.slice(0, Math.max(0, options.limit)) : finished;
  return {
    name: definition.name,
    title: definition.title,
    grading: definition.grading,
    metric: definition.metric,
    items: limited,
    files,
    skipped,
    ...(definition.name === 'gpqa-diamond' ? { shuffleSeed: seed } : {}),
  };
}

const MATH_INSTRUCTION = 'Please reason step by step, and put your final answer within \\boxed{}.';

/**
 * The zero-shot chat prompt of an item: Qwen2.5-Math's instruction for math ("Please reason step by step,
 * and put your final answer within \boxed{}."), simple-evals' multiple-choice instruction, KOR-Bench's
 * rule + question + `[[…]]` format.
 */
export function buildPrompt(benchmark: Pick<Benchmark, 'grading'>, item: BenchmarkItem): ChatMessage[] {
  switch (benchmark.grading) {
    case 'multiple-choice': {
      const choices = item.choices ?? [];
      const letters = LETTERS.slice(0, choices.length);
      const options = choices.map((choice, index) => `${letters[index]}) ${choice}`).join('\n');
      const content = `Answer the following multiple choice question. The last line of your response should be of the following format: 'Answer: $LETTER' (without quotes) where LETTER is one of ${letters}. Think step by step before answering.\n\n${item.question.trim()}\n\n${options}`;
      return [{ role: 'user', content }];
    }
    case 'bracket': {
      const rule = item.context ? `### Rule:\n\n${item.context.trim()}\n\n` : '';
      const content = `You are an intelligent assistant that follows the given rule to solve the question.\n\n${rule}### Question:\n${item.question.trim()}\n\nThink step by step, then give your final answer in double square brackets, for example [[answer]].\n\n### Answer:\n`;
      return [{ role: 'user', content }];
    }
    default: {
      const parts: string[] = [];
      if (item.context) parts.push(item.context);
      parts.push(item.question.trim());
      if (item.multipleAnswers)
        parts.push(
          'This problem has more than one answer: give all of them, separated by commas, inside one \\boxed{}.',
        );
      if (item.unit) parts.push(`Give the answer in ${item.unit}, without the unit inside \\boxed{}.`);
      parts.push(MATH_INSTRUCTION);
      return [{ role: 'user', content: parts.join('\n') }];
    }
  }
}
