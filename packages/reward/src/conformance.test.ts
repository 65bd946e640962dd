import { runJudgeConformance } from '@rlpt/conformance';
import { afterAll } from 'vitest';
import { backendFor } from '../test/helpers.js';
import { createGenerativeJudge } from './generative.js';
import { createLexicalJudge } from './lexical.js';
import { type ScriptedJudgeServer, startScriptedJudgeServer } from './testing/index.js';

runJudgeConformance('lexical', () => createLexicalJudge());
runJudgeConformance(
  'lexical (graded, no hardening)',
  () => createLexicalJudge({ scoring: 'graded', tolerance: 0, hardening: false }),
  { skipsTrivialPredictions: false, decidesPlainCases: false },
);

let server: ScriptedJudgeServer | undefined;
afterAll(async () => {
  await server?.close();
});

runJudgeConformance('generative over the OpenAI backend (gullible scripted judge)', async () => {
  server = await startScriptedJudgeServer({ latencyMs: 2 });
  return createGenerativeJudge({ backend: backendFor(server), batchSize: 4, concurrency: 4 });
});
