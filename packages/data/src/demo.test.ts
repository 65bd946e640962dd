import { describe, expect, it } from 'vitest';
import {
  buildDemoCorpus,
  type DemoDocument,
  demoTargets,
  demoTemplates,
  demoVocabulary,
  generateDemoDocuments,
} from './demo.js';

const days = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

/**
 * An independent reading of a demo document: for each sentence, the text it must have if it follows from
 * the sentences before it, or undefined when it is new information.
 */
function expectedInferable(document: DemoDocument): (string | undefined)[] {
  const state = { count: 0, step: 0, last: 0, today: 0, eventDay: 0, pet: '', kind: '', member: '', has: '' };
  type Rule = [RegExp, (match: RegExpExecArray) => string | undefined];
  const rules: Rule[] = [
    [/^Now (\w+) has \d+ (\w+) \.$/, (match) => `Now ${match[1]} has ${state.count} ${match[2]} .`],
    [
      /^\w+ (?:buys|finds) (\d+) more \w+ \.$/,
      (match) => {
        state.count += Number(match[1]);
        return undefined;
      },
    ],
    [
      /^\w+ (?:gives (\d+) \w+ to \w+|loses (\d+) \w+) \.$/,
      (match) => {
        state.count -= Number(match[1] ?? match[2]);
        return undefined;
      },
    ],
    [
      /^\w+ starts at (\d+) and (adds|subtracts) (\d+) each step \.$/,
      (match) => {
        state.step = (match[2] === 'adds' ? 1 : -1) * Number(match[3]);
        state.last = Number(match[1]);
        return undefined;
      },
    ],
    [
      /^The next number is \d+ \.$/,
      () => {
        state.last += state.step;
        return `The next number is ${state.last} .`;
      },
    ],
    [
      /^Then comes \d+ \.$/,
      () => {
        state.last += state.step;
        return `Then comes ${state.last} .`;
      },
    ],
    [
      /^Today is (\w+) \.$/,
      (match) => {
        state.today = days.indexOf(match[1]!);
        return undefined;
      },
    ],
    [/^Tomorrow is \w+ \.$/, () => `Tomorrow is ${days[(state.today + 1) % 7]} .`],
    [
      /^\w+ has a (\w+) in (\d+) days \.$/,
      (match) => {
        state.eventDay = (state.today + Number(match[2])) % 7;
        return undefined;
      },
    ],
    [/^The (\w+) is on \w+ \.$/, (match) => `The ${match[1]} is on ${days[state.eventDay]} .`],
    [
      /^The day after the (\w+) is \w+ \.$/,
      (match) => `The day after the ${match[1]} is ${days[(state.eventDay + 1) % 7]} .`,
    ],
    [
      /^Every (\w+) is a (\w+) \.$/,
      (match) => {
        state.member = match[1]!;
        state.kind = match[2]!;
        return undefined;
      },
    ],
    [
      /^Every (\w+) has (\d+ \w+) \.$/,
      (match) => {
        state.has = match[1] === state.kind ? match[2]! : '';
        return undefined;
      },
    ],
    [/^So \w+ is a \w+ \.$/, () => `So ${state.pet} is a ${state.kind} .`],
    [/^So \w+ has \d+ \w+ \.$/, () => `So ${state.pet} has ${state.has} .`],
    [
      /^(\w+) is a (\w+) \.$/,
      (match) => {
        state.pet = match[2] === state.member ? match[1]! : '';
        return undefined;
      },
    ],
    [
      /^\w+ has (\d+) \w+ \.$/,
      (match) => {
        state.count = Number(match[1]);
        return undefined;
      },
    ],
  ];
  return document.sentences.map(({ text }) => {
    for (const [pattern, apply] of rules) {
      const match = pattern.exec(text);
      if (match) return apply(match);
    }
    throw new Error(`unexpected demo sentence: ${text}`);
  });
}

describe('demo corpus', () => {
  const documents = generateDemoDocuments({ seed: 3, documents: 4000 });

  it('is deterministic by seed and extends without changing earlier documents', () => {
    expect(generateDemoDocuments({ seed: 3, documents: 10 })).toEqual(documents.slice(0, 10));
    expect(generateDemoDocuments({ seed: 4, documents: 10 })).not.toEqual(documents.slice(0, 10));
  });

  it('cycles through all templates and keeps 3–5 sentences per document', () => {
    expect(new Set(documents.map((document) => document.template))).toEqual(new Set(demoTemplates));
    for (const document of documents) {
      expect(document.sentences.length).toBeGreaterThanOrEqual(3);
      expect(document.sentences.length).toBeLessThanOrEqual(5);
      expect(document.text).toBe(document.sentences.map((sentence) => sentence.text).join(' '));
    }
  });

  it('uses only vocabulary tokens and numbers from 0 to 20', () => {
    const vocabulary = new Set(demoVocabulary);
    const unknown = new Set<string>();
    const numbers = new Set<number>();
    for (const document of documents) {
      for (const token of document.text.split(' ')) {
        if (!vocabulary.has(token)) unknown.add(token);
        if (/^\d+$/.test(token)) numbers.add(Number(token));
      }
    }
    expect([...unknown]).toEqual([]);
    expect(Math.max(...numbers)).toBeLessThanOrEqual(20);
    expect(Math.min(...numbers)).toBeGreaterThanOrEqual(0);
    expect(demoVocabulary.length).toBeLessThan(130);
  });

  it('flags exactly the sentences that follow from their context, and they are correct', () => {
    for (const document of documents) {
      const expected = expectedInferable(document);
      document.sentences.forEach((sentence, index) => {
        expect(sentence.inferable, `${document.id} sentence ${index}: ${sentence.text}`).toBe(
          expected[index] !== undefined,
        );
        if (sentence.inferable) expect(sentence.text).toBe(expected[index]);
      });
    }
  });

  it('makes targets only of inferable sentences, with context, next and a 3-sentence reference', () => {
    const document = documents.find(
      (candidate) => candidate.template === 'sequence' && candidate.sentences.length === 5,
    )!;
    const targets = demoTargets(document);
    expect(targets.map((target) => target.index)).toEqual([1, 2, 3, 4]);
    const [first] = targets;
    expect(first?.context).toBe(document.sentences[0]?.text);
    expect(first?.next).toBe(document.sentences[2]?.text);
    expect(first?.reference).toBe(
      document.sentences
        .slice(1, 4)
        .map((sentence) => sentence.text)
        .join(' '),
    );
    expect(targets.at(-1)?.next).toBe('');
    for (const target of documents.flatMap((candidate) => demoTargets(candidate))) {
      expect(target.index).toBeGreaterThan(0);
    }
  });

  it('keeps held-out contexts out of the training documents’ prefixes', () => {
    const corpus = buildDemoCorpus({ seed: 1, trainDocuments: 3000, heldOutDocuments: 600 });
    const prefixes = new Set<string>();
    for (const document of corpus.train) {
      for (let end = 1; end <= document.sentences.length; end++) {
        prefixes.add(
          document.sentences
            .slice(0, end)
            .map((sentence) => sentence.text)
            .join(' '),
        );
      }
    }
    expect(corpus.droppedHeldOutTargets).toBeGreaterThan(0);
    for (const target of corpus.heldOutTargets) {
      expect(prefixes.has(target.context)).toBe(false);
      expect(corpus.train.some((document) => document.text.startsWith(`${target.context} `))).toBe(false);
    }
    // Every template still has held-out targets to evaluate.
    const perTemplate = new Map<string, number>();
    for (const target of corpus.heldOutTargets)
      perTemplate.set(target.template, (perTemplate.get(target.template) ?? 0) + 1);
    for (const template of demoTemplates) expect(perTemplate.get(template) ?? 0).toBeGreaterThan(50);
    expect(corpus.trainTargets.length).toBeGreaterThan(5000);
  });
});
