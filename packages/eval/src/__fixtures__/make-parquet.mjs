// Regenerates the Parquet fixtures (needs hyparquet-writer 0.17 from npm; the import path below is where pnpm put it):
//   node make-parquet.mjs mmlu_pro/data/test-00000-of-00001.parquet aime25.parquet
import { parquetWriteBuffer } from '/work/main/node_modules/.pnpm/hyparquet-writer@0.17.0/node_modules/hyparquet-writer/src/index.js';
import { writeFileSync } from 'node:fs';
import { parquetReadObjects } from '/work/main/packages/eval/node_modules/hyparquet/src/index.js';
// MMLU-Pro as TIGER-Lab/MMLU-Pro distributes it (data/test-00000-of-00001.parquet).
const rows = [
  { question_id: 70, question: 'Typical advertising regulatory bodies suggest, for example that adverts must not: encourage _________, cause unnecessary ________ or _____, and must not cause _______ offence.',
    options: ['Safe practices, Fear, Jealousy, Trivial', 'Unsafe practices, Distress, Joy, Trivial', 'Safe practices, Wants, Jealousy, Trivial', 'Safe practices, Distress, Fear, Trivial', 'Unsafe practices, Wants, Jealousy, Serious', 'Safe practices, Distress, Jealousy, Serious', 'Safe practices, Wants, Fear, Serious', 'Unsafe practices, Wants, Fear, Trivial', 'Unsafe practices, Distress, Fear, Serious', 'N/A'],
    answer: 'I', answer_index: 8, cot_content: '', category: 'business', src: 'ori_mmlu-business_ethics' },
  { question_id: 71, question: 'What is the value of 2 + 2?',
    options: ['3', '4', '5', '6', '7', '8', '9', '10', '11', '12'],
    answer: 'B', answer_index: 1, cot_content: '', category: 'math', src: 'stemez-Math' },
  { question_id: 72, question: 'Which gas do plants absorb?',
    options: ['Oxygen', 'N/A', 'Carbon dioxide', 'N/A'],
    answer: 'C', answer_index: 2, cot_content: '', category: 'biology', src: 'scibench' },
];
const list = (name) => [
  { name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
];
const schema = [
  { name: 'schema', num_children: 7 },
  { name: 'question_id', type: 'INT64', repetition_type: 'OPTIONAL' },
  { name: 'question', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  ...list('options'),
  { name: 'answer', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'answer_index', type: 'INT64', repetition_type: 'OPTIONAL' },
  { name: 'category', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'src', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
];
const columnData = [
  { name: 'question_id', data: rows.map((r) => BigInt(r.question_id)) },
  { name: 'question', data: rows.map((r) => r.question) },
  { name: 'options', data: rows.map((r) => r.options) },
  { name: 'answer', data: rows.map((r) => r.answer) },
  { name: 'answer_index', data: rows.map((r) => BigInt(r.answer_index)) },
  { name: 'category', data: rows.map((r) => r.category) },
  { name: 'src', data: rows.map((r) => r.src) },
];
const buffer = parquetWriteBuffer({ columnData, schema });
const out = process.argv[2];
writeFileSync(out, Buffer.from(buffer));
const back = await parquetReadObjects({ file: buffer });
console.log(JSON.stringify(back, (k, v) => typeof v === "bigint" ? Number(v) : v).slice(0, 600));
// AIME 2025 as a one-row-group parquet with problem/answer (math-ai/aime25 layout).
const aime = parquetWriteBuffer({ columnData: [
  { name: 'problem', data: ['Find the sum of all integer bases $b>9$ for which $17_{b}$ is a divisor of $97_{b}$.', 'On $\\triangle ABC$ points $A, D, E$, and $B$ lie in that order on side $\\overline{AB}$. Find the area of heptagon $AFNBCEM$.'], type: 'STRING' },
  { name: 'answer', data: ['70', '588'], type: 'STRING' },
  { name: 'id', data: ['0', '1'], type: 'STRING' },
] });
writeFileSync(process.argv[3], Buffer.from(aime));
console.log(JSON.stringify(await parquetReadObjects({ file: aime })));
