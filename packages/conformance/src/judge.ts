/**
 * The judge conformance suite: behaviours every `JudgeV1` must show, whatever it is built on. Call it
 * from a vitest test file of the package that implements the judge:
 *
 * ```ts
 * import { runJudgeConformance } from '@rlpt/conformance';
 * runJudgeConformance('lexical', () => createLexicalJudge());
 * ```
 */
import type { JudgeItem, JudgeV1, JudgeVerdict } from '@rlpt/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

export interface JudgeConformanceOptions {
  /**
   * The judge decides plain cases correctly: a prediction equal to the reference's first sentence scores
   * 1 in `prefix` mode, an unrelated sentence scores 0. Default true; set false for judges of another
   * task (e.g. a math verifier) — the order test then only checks shapes.
   */
  decidesPlainCases?: boolean;
  /** Predictions under 3 words are `skipped` with score 0 (METHOD.md §7). Default true. */
  skipsTrivialPredictions?: boolean;
  /** Per-test timeout in ms. Default 30 000. */
  timeoutMs?: number;
}

/** Reference windows (three sentences each) and predictions used by the suite. */
export const judgeConformanceCases = [
  {
    reference:
      'The lighthouse keeper climbed the spiral stairs at dusk. He lit the great lamp and watched the ships. By midnight the fog had rolled in from the sea.',
    right: 'The lighthouse keeper climbed the spiral stairs at dusk.',
    wrong: 'Quarterly revenue from semiconductor exports grew sharply in Korea.',
  },
  {
    reference:
      'Photosynthesis converts light energy into chemical energy stored in glucose. It takes place mainly in the leaves of plants. Oxygen is released as a by-product.',
    right: 'Photosynthesis converts light energy into chemical energy stored in glucose.',
    wrong: 'The orchestra tuned their violins before the evening concert began.',
  },
  {
    reference:
      'In 1969 the Apollo 11 crew landed on the Moon. Neil Armstrong was the first to step onto the surface. Buzz Aldrin followed him about twenty minutes later.',
    right: 'In 1969 the Apollo 11 crew landed on the Moon.',
    wrong: 'Fresh basil should be added at the very end of cooking.',
  },
] as const;

function assertVerdictShape(
  verdict: JudgeVerdict | undefined,
  where: string,
): asserts verdict is JudgeVerdict {
  expect(verdict, `${where}: missing verdict`).toBeDefined();
  expect(typeof verdict?.score, `${where}: score must be a number`).toBe('number');
  const score = verdict?.score ?? Number.NaN;
  expect(
    Number.isFinite(score) && score >= 0 && score <= 1,
    `${where}: score ${score} must be in [0, 1]`,
  ).toBe(true);
  expect(['ok', 'skipped', 'failed'], `${where}: status`).toContain(verdict?.status);
  if (verdict?.status === 'failed') expect(score, `${where}: a failed verdict scores 0`).toBe(0);
  if (verdict?.status === 'skipped') {
    expect(score, `${where}: a skipped verdict scores 0`).toBe(0);
    expect(typeof verdict.reason, `${where}: a skipped verdict says why`).toBe('string');
  }
  if (verdict?.reason !== undefined) expect(typeof verdict.reason).toBe('string');
}

/** Registers the conformance tests for the judge `makeJudge` creates (one judge for the whole suite). */
export function runJudgeConformance(
  name: string,
  makeJudge: () => JudgeV1 | Promise<JudgeV1>,
  options: JudgeConformanceOptions = {},
): void {
  const decides = options.decidesPlainCases ?? true;
  const skipsTrivial = options.skipsTrivialPredictions ?? true;
  const timeout = options.timeoutMs ?? 30_000;

  describe(`JudgeV1 conformance: ${name}`, () => {
    let judge: JudgeV1;
    beforeAll(async () => {
      judge = await makeJudge();
    });
    afterAll(async () => {
      await judge?.close?.();
    });

    // An irregular right/wrong pattern (1 0 0 1 1 0), so reversed or shifted verdicts cannot pass.
    const mixedItems = (): JudgeItem[] =>
      judgeConformanceCases.flatMap((entry, index) => {
        const right = { id: `right-${index}`, prediction: entry.right, reference: entry.reference };
        const wrong = { id: `wrong-${index}`, prediction: entry.wrong, reference: entry.reference };
        return index % 2 === 0 ? [right, wrong] : [wrong, right];
      });

    it('declares specificationVersion v1 and a non-empty name', () => {
      expect(judge.specificationVersion).toBe('v1');
      expect(typeof judge.name).toBe('string');
      expect(judge.name.length).toBeGreaterThan(0);
    });

    it('returns an empty array for an empty batch', { timeout }, async () => {
      await expect(judge.judge([])).resolves.toEqual([]);
    });

    it('returns one well-formed verdict per item, in order', { timeout }, async () => {
      const items = mixedItems();
      const verdicts = await judge.judge(items);
      expect(Array.isArray(verdicts)).toBe(true);
      expect(verdicts).toHaveLength(items.length);
      for (const [index, verdict] of verdicts.entries()) assertVerdictShape(verdict, `${name} item ${index}`);
      if (decides) {
        const scores = verdicts.map((verdict) => verdict.score);
        expect(scores).toEqual(items.map((item) => (item.id?.startsWith('right') ? 1 : 0)));
        for (const verdict of verdicts) expect(verdict.status).toBe('ok');
      }
    });

    it('keeps the order when the same batch is reversed', { timeout }, async () => {
      const items = mixedItems();
      const forward = await judge.judge(items);
      const backward = await judge.judge([...items].reverse());
      expect(backward.map((verdict) => verdict.score)).toEqual(
        forward.map((verdict) => verdict.score).reverse(),
      );
    });

    it('is deterministic: identical input gives identical scores and statuses', { timeout }, async () => {
      const items = mixedItems();
      const first = await judge.judge(items);
      const second = await judge.judge(items);
      const strip = (verdicts: JudgeVerdict[]) => verdicts.map(({ score, status }) => ({ score, status }));
      expect(strip(second)).toEqual(strip(first));
    });

    it('gives duplicates within one batch the same verdict', { timeout }, async () => {
      const entry = judgeConformanceCases[0];
      const item: JudgeItem = { prediction: entry.right, reference: entry.reference };
      const other: JudgeItem = { prediction: entry.wrong, reference: entry.reference };
      const verdicts = await judge.judge([item, other, { ...item }, { ...other }, { ...item }]);
      expect(verdicts).toHaveLength(5);
      expect(verdicts[2]?.score).toBe(verdicts[0]?.score);
      expect(verdicts[4]?.score).toBe(verdicts[0]?.score);
      expect(verdicts[3]?.score).toBe(verdicts[1]?.score);
    });

    it('answers concurrent calls independently', { timeout }, async () => {
      const items = mixedItems();
      const [a, b, c] = await Promise.all([
        judge.judge(items),
        judge.judge(items.slice(0, 2)),
        judge.judge(items.slice(2)),
      ]);
      expect(a).toHaveLength(items.length);
      expect(b?.map((verdict) => verdict.score)).toEqual(a?.slice(0, 2).map((verdict) => verdict.score));
      expect(c?.map((verdict) => verdict.score)).toEqual(a?.slice(2).map((verdict) => verdict.score));
    });

    it('handles a batch of 300 items', { timeout }, async () => {
      const items: JudgeItem[] = Array.from({ length: 300 }, (_, index) => {
        const entry = judgeConformanceCases[
          index % judgeConformanceCases.length
        ] as (typeof judgeConformanceCases)[number];
        return {
          id: String(index),
          prediction: index % 2 ? entry.right : entry.wrong,
          reference: entry.reference,
        };
      });
      const verdicts = await judge.judge(items);
      expect(verdicts).toHaveLength(300);
      for (const [index, verdict] of verdicts.entries()) assertVerdictShape(verdict, `${name} item ${index}`);
      if (decides)
        expect(verdicts.map((verdict) => verdict.score)).toEqual(items.map((_, index) => index % 2));
    });

    if (skipsTrivial) {
      it('skips empty and trivial predictions with score 0 (METHOD.md §7)', { timeout }, async () => {
        const reference = judgeConformanceCases[0].reference;
        const verdicts = await judge.judge([
          { prediction: '', reference },
          { prediction: '   \n\t ', reference },
          { prediction: 'The lighthouse', reference },
        ]);
        for (const verdict of verdicts) {
          assertVerdictShape(verdict, name);
          expect(verdict.status).toBe('skipped');
          expect(verdict.score).toBe(0);
        }
      });
    }

    it('never rejects for one bad item: it gets a verdict, the rest are judged', { timeout }, async () => {
      const entry = judgeConformanceCases[1];
      const items = [
        { prediction: entry.right, reference: entry.reference },
        { prediction: 42, reference: entry.reference } as unknown as JudgeItem,
        { prediction: entry.right, reference: '' },
        { prediction: entry.right, reference: entry.reference, mode: 'bogus' } as unknown as JudgeItem,
        {
          prediction: '\u202e\u200b𝕿𝖍𝖊 ｆｕｌｌｗｉｄｔｈ — “quotes” 🙂 and ünïcödé text here.',
          reference: entry.reference,
        },
        { prediction: entry.wrong, reference: entry.reference },
      ];
      const verdicts = await judge.judge(items);
      expect(verdicts).toHaveLength(items.length);
      for (const [index, verdict] of verdicts.entries()) assertVerdictShape(verdict, `${name} item ${index}`);
      expect(verdicts[1]?.status).toBe('failed');
      expect(verdicts[2]?.status).toBe('failed');
      expect(verdicts[3]?.status).toBe('failed');
      if (decides) {
        expect(verdicts[0]?.score).toBe(1);
        expect(verdicts[5]?.score).toBe(0);
      }
    });

    it('accepts a per-item mode', { timeout }, async () => {
      const entry = judgeConformanceCases[2];
      const verdicts = await judge.judge([
        { prediction: entry.right, reference: entry.reference, mode: 'prefix' },
        { prediction: entry.right, reference: entry.right, mode: 'strict' },
        { prediction: entry.wrong, reference: entry.right, mode: 'strict' },
      ]);
      for (const [index, verdict] of verdicts.entries()) assertVerdictShape(verdict, `${name} item ${index}`);
      if (decides) expect(verdicts.map((verdict) => verdict.score)).toEqual([1, 1, 0]);
    });

    it('rejects with an AbortError when the signal is already aborted', { timeout }, async () => {
      const controller = new AbortController();
      controller.abort();
      const entry = judgeConformanceCases[0];
      const error = await judge
        .judge([{ prediction: entry.right, reference: entry.reference }], { signal: controller.signal })
        .then(
          () => undefined,
          (caught: unknown) => caught,
        );
      expect(error, 'judge() must reject when aborted').toBeInstanceOf(Error);
      expect((error as Error).name).toBe('AbortError');
    });

    it('either finishes or rejects with an AbortError when aborted mid-call', { timeout }, async () => {
      const controller = new AbortController();
      const items = mixedItems().map((item, index) => ({
        ...item,
        prediction: `${item.prediction} (${index} mid)`,
      }));
      const pending = judge.judge(items, { signal: controller.signal });
      controller.abort();
      const outcome = await pending.then(
        (verdicts) => ({ verdicts }),
        (error: unknown) => ({ error }),
      );
      if ('error' in outcome) expect((outcome.error as Error).name).toBe('AbortError');
      else expect(outcome.verdicts).toHaveLength(items.length);
      // The judge still works afterwards.
      await expect(judge.judge(mixedItems().slice(0, 2))).resolves.toHaveLength(2);
    });
  });
}
