#!/usr/bin/env node
// Runs every bench/<name>.ts one after another and prints their headline lines together at the end.
// Usage: node bench/run-all.mjs [name ...]   (default: all)
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const all = readdirSync(here)
  .filter((file) => file.endsWith('.ts'))
  .map((file) => file.slice(0, -3))
  .sort();
const names = process.argv.slice(2).length ? process.argv.slice(2) : all;
const headlines = [];
for (const name of names) {
  if (!all.includes(name)) {
    console.error(`bench: no bench/${name}.ts (have: ${all.join(', ')})`);
    process.exitCode = 2;
    continue;
  }
  console.error(`\n=== bench/${name}.ts ===`);
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--conditions=@rlpt/source', join(here, `${name}.ts`)],
    { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', cwd: join(here, '..') },
  );
  process.stdout.write(result.stdout ?? '');
  const lines = (result.stdout ?? '').trim().split('\n');
  const headline = lines.reverse().find((line) => line.startsWith(`${name}:`));
  headlines.push(headline ?? `${name}: failed (exit code ${result.status})`);
  if (result.status !== 0) process.exitCode = 1;
}
console.log('\nHeadlines:');
for (const line of headlines) console.log(`  ${line}`);
