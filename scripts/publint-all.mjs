#!/usr/bin/env node
// Lints every publishable workspace package as npm would ship it (publint: exports, types, files,
// module format). Run after `pnpm build`; exits 1 on any error. Part of `pnpm test:all`.
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { publishablePackages } from './lib/workspace.mjs';

let errors = 0;
let checked = 0;
for (const { dir, manifest: pkg } of publishablePackages()) {
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
