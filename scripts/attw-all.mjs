#!/usr/bin/env node
// Checks the types of every publishable workspace package as npm would ship it, with
// @arethetypeswrong/core (the engine of `attw`): each `exports` entry must resolve to JavaScript and
// to its own type declarations under TypeScript's node16 (ESM) and bundler resolution. Our packages
// are ESM-only by design (STYLE.md), so, like `attw --profile esm-only`, `require()` from CommonJS
// and the pre-exports node10 resolution are not checked. Run after `pnpm build`; exits 1 on any
// problem. Part of `pnpm test:all`. Details for one package: `pnpm exec attw --pack <dir> --profile esm-only`.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { checkPackage, createPackageFromTarballData } from '@arethetypeswrong/core';
import { packPackage, publishablePackages, repoRoot } from './lib/workspace.mjs';

const ignoredResolutions = new Set(['node10', 'node16-cjs']);
const scratch = mkdtempSync(join(tmpdir(), 'rlpt-attw-'));
let problems = 0;
let checked = 0;
try {
  for (const { dir, manifest } of publishablePackages()) {
    checked++;
    const tarball = packPackage(dir, scratch);
    const analysis = await checkPackage(createPackageFromTarballData(new Uint8Array(readFileSync(tarball))));
    if (!analysis.types) {
      console.log(
        `${manifest.name}: error: ships no type declarations (${relative(repoRoot, dir)}/package.json)`,
      );
      problems++;
      continue;
    }
    for (const problem of analysis.problems) {
      if ('resolutionKind' in problem && ignoredResolutions.has(problem.resolutionKind)) continue;
      const where = [problem.entrypoint, problem.resolutionKind].filter(Boolean).join(' via ');
      console.log(`${manifest.name}: error: ${problem.kind}${where ? ` (${where})` : ''}`);
      problems++;
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
console.log(`attw: ${checked} packages checked (esm-only profile), ${problems} problem(s)`);
if (problems > 0) process.exitCode = 1;
