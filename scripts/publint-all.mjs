#!/usr/bin/env node
// Lints every publishable workspace package as npm would ship it (publint: exports, types, files,
// module format). Run after `pnpm build`; exits 1 on any error. Part of `pnpm test:all`.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';

const root = new URL('..', import.meta.url).pathname;
const folders = ['packages', 'packages/backends', 'packages/learners'].flatMap((base) =>
  readdirSync(join(root, base), { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(root, base, entry.name, 'package.json')))
    .map((entry) => join(root, base, entry.name)),
);
let errors = 0;
let checked = 0;
for (const dir of folders) {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (pkg.private) continue;
  checked++;
  const { messages } = await publint({ pkgDir: dir, level: 'warning', strict: false });
  for (const message of messages) {
    const text = formatMessage(message, pkg) ?? message.code;
    console.log(`${pkg.name}: ${message.type}: ${text}`);
    if (message.type === 'error') errors++;
  }
}
console.log(`publint: ${checked} packages checked, ${errors} error(s)`);
if (errors > 0) process.exitCode = 1;
