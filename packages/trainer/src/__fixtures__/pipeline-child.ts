/**
 * Child process of the resume test: runs the tiny pipeline (pretrain → SFT → RLPT → evaluation) in a
 * run directory and prints every finished step as a JSON line, so the parent can SIGKILL it mid-run.
 *
 *   node --conditions=@rlpt/source --import tsx pipeline-child.ts <modelDir> <runDir> [--resume]
 */
import { runPipeline, tinyTokenizer } from './tiny-run.js';

const [modelDir, runDir, flag] = process.argv.slice(2);
if (!modelDir || !runDir) throw new Error('usage: pipeline-child.ts <modelDir> <runDir> [--resume]');
const { learner } = await runPipeline({
  runDir,
  modelDir,
  tokenizer: await tinyTokenizer(modelDir),
  resume: flag === '--resume',
  onEvent: (event) => {
    if (event.type === 'step-end') {
      process.stdout.write(`${JSON.stringify({ stage: event.stage, step: event.step })}\n`);
    }
  },
});
await learner.close();
process.stdout.write('{"done":true}\n');
