import { createRandom, murmur32 } from './hash.js';

/**
 * The built-in demo corpus: small word-level documents whose next sentence can be *inferred* from the
 * context (running arithmetic, counting sequences, weekdays, syllogisms), so a tiny model can learn RLPT's
 * next-segment task on two CPU cores. Every sentence says whether it is inferable; only inferable sentences
 * become targets. Numbers stay within 0–20, every token is in {@link demoVocabulary}, and tokens are
 * separated by single spaces (sentences end with a ` .` token).
 */
export type DemoTemplate = 'apples' | 'sequence' | 'weekdays' | 'syllogism';

/** All demo templates, in the order documents cycle through them. */
export const demoTemplates: readonly DemoTemplate[] = ['apples', 'sequence', 'weekdays', 'syllogism'];

/** One sentence of a demo document. */
export interface DemoSentence {
  text: string;
  /** True when the sentence follows deterministically from the sentences before it. */
  inferable: boolean;
}

/** One generated document. */
export interface DemoDocument {
  /** `demo-train-17`, `demo-heldout-3`. */
  id: string;
  template: DemoTemplate;
  sentences: DemoSentence[];
  /** Sentences joined with single spaces. */
  text: string;
}

const people: readonly (readonly [string, string])[] = [
  ['Mia', 'She'],
  ['Leo', 'He'],
  ['Sam', 'He'],
  ['Ana', 'She'],
  ['Tom', 'He'],
  ['Zoe', 'She'],
  ['Max', 'He'],
  ['Eva', 'She'],
];
const items = ['apples', 'pears', 'eggs', 'coins', 'books', 'cards'] as const;
const days = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'] as const;
const events = ['trip', 'party', 'game', 'test'] as const;
const kinds: readonly { members: readonly string[]; kind: string }[] = [
  { members: ['robin', 'sparrow'], kind: 'bird' },
  { members: ['trout', 'salmon'], kind: 'fish' },
  { members: ['pine', 'maple'], kind: 'tree' },
  { members: ['rose', 'tulip'], kind: 'flower' },
];
const pets = ['Pip', 'Kiki', 'Bo', 'Lulu', 'Rex', 'Fifi', 'Tiko', 'Nemo'] as const;
const maxNumber = 20;

const fixedWords = [
  '.',
  'has',
  'buys',
  'finds',
  'more',
  'gives',
  'to',
  'loses',
  'Now',
  'starts',
  'at',
  'and',
  'adds',
  'subtracts',
  'each',
  'step',
  'The',
  'next',
  'number',
  'is',
  'Then',
  'comes',
  'Today',
  'Tomorrow',
  'a',
  'in',
  'days',
  'on',
  'day',
  'after',
  'the',
  'Every',
  'So',
];

/**
 * Every token the generator can emit, sorted: the vocabulary of the demo's word-level tokenizer
 * (special tokens such as padding or the prediction tags are the tokenizer's business).
 */
export const demoVocabulary: readonly string[] = [
  ...new Set([
    ...fixedWords,
    ...people.flat(),
    ...items,
    ...days,
    ...events,
    ...kinds.flatMap((kind) => [...kind.members, kind.kind]),
    ...pets,
    ...Array.from({ length: maxNumber + 1 }, (_, number) => String(number)),
  ]),
].sort();

type Random = () => number;
const integer = (random: Random, min: number, max: number): number =>
  min + Math.floor(random() * (max - min + 1));
function pick<T>(random: Random, list: readonly T[]): T {
  return list[Math.floor(random() * list.length)]!;
}

function apples(random: Random): DemoSentence[] {
  const [name, pronoun] = pick(random, people);
  const other = pick(
    random,
    people.filter(([candidate]) => candidate !== name),
  )[0];
  const item = pick(random, items);
  let count = integer(random, 2, 12);
  const sentences: DemoSentence[] = [{ text: `${name} has ${count} ${item} .`, inferable: false }];
  const steps = integer(random, 1, 2);
  for (let step = 0; step < steps; step++) {
    const gain = count === 0 || (random() < 0.5 && count < maxNumber);
    if (gain) {
      const amount = integer(random, 1, Math.min(9, maxNumber - count));
      const verb = random() < 0.5 ? 'buys' : 'finds';
      sentences.push({ text: `${pronoun} ${verb} ${amount} more ${item} .`, inferable: false });
      count += amount;
    } else {
      const amount = integer(random, 1, Math.max(1, Math.min(9, count)));
      const amountTaken = Math.min(amount, count);
      sentences.push(
        random() < 0.5
          ? { text: `${pronoun} gives ${amountTaken} ${item} to ${other} .`, inferable: false }
          : { text: `${pronoun} loses ${amountTaken} ${item} .`, inferable: false },
      );
      count -= amountTaken;
    }
    sentences.push({ text: `Now ${name} has ${count} ${item} .`, inferable: true });
  }
  return sentences;
}

function sequence(random: Random): DemoSentence[] {
  const [name] = pick(random, people);
  const steps = integer(random, 2, 4);
  const delta = integer(random, 1, 5);
  const up = random() < 0.5;
  const start = up
    ? integer(random, 0, maxNumber - steps * delta)
    : integer(random, steps * delta, maxNumber);
  const sign = up ? 1 : -1;
  const sentences: DemoSentence[] = [
    {
      text: `${name} starts at ${start} and ${up ? 'adds' : 'subtracts'} ${delta} each step .`,
      inferable: false,
    },
    { text: `The next number is ${start + sign * delta} .`, inferable: true },
  ];
  for (let step = 2; step <= steps; step++) {
    sentences.push({ text: `Then comes ${start + sign * delta * step} .`, inferable: true });
  }
  return sentences;
}

function weekdays(random: Random): DemoSentence[] {
  const [name] = pick(random, people);
  const today = integer(random, 0, 6);
  const event = pick(random, events);
  const inDays = integer(random, 2, 6);
  const sentences: DemoSentence[] = [
    { text: `Today is ${days[today]} .`, inferable: false },
    { text: `Tomorrow is ${days[(today + 1) % 7]} .`, inferable: true },
    { text: `${name} has a ${event} in ${inDays} days .`, inferable: false },
    { text: `The ${event} is on ${days[(today + inDays) % 7]} .`, inferable: true },
  ];
  if (random() < 0.5) {
    sentences.push({
      text: `The day after the ${event} is ${days[(today + inDays + 1) % 7]} .`,
      inferable: true,
    });
  }
  return sentences;
}

function syllogism(random: Random): DemoSentence[] {
  const kind = pick(random, kinds);
  const member = pick(random, kind.members);
  const pet = pick(random, pets);
  const count = integer(random, 2, 9);
  const item = pick(random, items);
  const sentences: DemoSentence[] = [
    { text: `Every ${member} is a ${kind.kind} .`, inferable: false },
    { text: `Every ${kind.kind} has ${count} ${item} .`, inferable: false },
    { text: `${pet} is a ${member} .`, inferable: false },
    { text: `So ${pet} is a ${kind.kind} .`, inferable: true },
  ];
  if (random() < 0.5) sentences.push({ text: `So ${pet} has ${count} ${item} .`, inferable: true });
  return sentences;
}

const generators: Record<DemoTemplate, (random: Random) => DemoSentence[]> = {
  apples,
  sequence,
  weekdays,
  syllogism,
};

/** Options of {@link generateDemoDocuments}. */
export interface DemoDocumentsOptions {
  /** Seed; the same seed gives the same documents. Default 0. */
  seed?: number;
  /** Number of documents. Default 1000. */
  documents?: number;
  /** Templates to cycle through. Default all of {@link demoTemplates}. */
  templates?: readonly DemoTemplate[];
  /** Id prefix: documents are `${prefix}-${index}`. Default `demo`. */
  idPrefix?: string;
}

/**
 * Generates demo documents. Document `i` depends only on (`seed`, `idPrefix`, `i`), so asking for more
 * documents extends the list without changing the first ones. Templates are used in turn.
 */
export function generateDemoDocuments(options: DemoDocumentsOptions = {}): DemoDocument[] {
  const seed = options.seed ?? 0;
  const count = options.documents ?? 1000;
  const templates = options.templates ?? demoTemplates;
  const prefix = options.idPrefix ?? 'demo';
  const documents: DemoDocument[] = [];
  for (let index = 0; index < count; index++) {
    const template = templates[index % templates.length]!;
    const random = createRandom(murmur32(`${prefix}:${index}`, seed));
    const sentences = generators[template](random);
    documents.push({
      id: `${prefix}-${index}`,
      template,
      sentences,
      text: sentences.map((sentence) => sentence.text).join(' '),
    });
  }
  return documents;
}

/** A next-segment target in a demo document. */
export interface DemoTarget {
  /** `${documentId}:${index}`. */
  id: string;
  documentId: string;
  template: DemoTemplate;
  /** 0-based index of the target sentence. */
  index: number;
  context: string;
  target: string;
  /** The following sentence, or `''` for the last sentence (such targets can only be ASR). */
  next: string;
  /** Up to `referenceSegments` sentences from the target on. */
  reference: string;
  contextSegments: number;
  referenceSegments: number;
}

/**
 * The targets of one demo document: every inferable sentence after the first, with the sentences before
 * it as context, the next sentence, and a reference window of up to `referenceSegments` (default 3).
 */
export function demoTargets(
  document: DemoDocument,
  options: { referenceSegments?: number } = {},
): DemoTarget[] {
  const window = options.referenceSegments ?? 3;
  const texts = document.sentences.map((sentence) => sentence.text);
  const targets: DemoTarget[] = [];
  for (let index = 1; index < texts.length; index++) {
    if (!document.sentences[index]!.inferable) continue;
    const reference = texts.slice(index, index + window);
    targets.push({
      id: `${document.id}:${index}`,
      documentId: document.id,
      template: document.template,
      index,
      context: texts.slice(0, index).join(' '),
      target: texts[index]!,
      next: texts[index + 1] ?? '',
      reference: reference.join(' '),
      contextSegments: index,
      referenceSegments: reference.length,
    });
  }
  return targets;
}

/** Options of {@link buildDemoCorpus}. */
export interface DemoCorpusOptions {
  seed?: number;
  /** Training documents. Default 3000. */
  trainDocuments?: number;
  /** Held-out documents generated (targets whose context prefixes a training document are then dropped). Default 600. */
  heldOutDocuments?: number;
  templates?: readonly DemoTemplate[];
  referenceSegments?: number;
}

/** The demo corpus with its train/held-out split. */
export interface DemoCorpus {
  train: DemoDocument[];
  heldOut: DemoDocument[];
  trainTargets: DemoTarget[];
  /** Held-out targets whose context is never a prefix of a training document. */
  heldOutTargets: DemoTarget[];
  /** Held-out targets dropped because their context prefixes a training document. */
  droppedHeldOutTargets: number;
}

/**
 * Builds the demo's train and held-out sets from independent streams of the same seed. A held-out target
 * is kept only when its context (as whole sentences) is not a prefix of any training document, so the
 * held-out evaluation never asks for a continuation the model saw during training.
 */
export function buildDemoCorpus(options: DemoCorpusOptions = {}): DemoCorpus {
  const seed = options.seed ?? 0;
  const common = { seed, ...(options.templates ? { templates: options.templates } : {}) };
  const train = generateDemoDocuments({
    ...common,
    documents: options.trainDocuments ?? 3000,
    idPrefix: 'demo-train',
  });
  const heldOut = generateDemoDocuments({
    ...common,
    documents: options.heldOutDocuments ?? 600,
    idPrefix: 'demo-heldout',
  });
  const trainPrefixes = new Set<string>();
  for (const document of train) {
    for (let end = 1; end <= document.sentences.length; end++) {
      trainPrefixes.add(
        document.sentences
          .slice(0, end)
          .map((sentence) => sentence.text)
          .join(' '),
      );
    }
  }
  const targetOptions = options.referenceSegments ? { referenceSegments: options.referenceSegments } : {};
  const trainTargets = train.flatMap((document) => demoTargets(document, targetOptions));
  const candidates = heldOut.flatMap((document) => demoTargets(document, targetOptions));
  const heldOutTargets = candidates.filter((target) => !trainPrefixes.has(target.context));
  return {
    train,
    heldOut,
    trainTargets,
    heldOutTargets,
    droppedHeldOutTargets: candidates.length - heldOutTargets.length,
  };
}
