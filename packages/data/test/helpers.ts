import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The monorepo root (…/packages/data/test → …). */
export const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

/** The shared data folder (`../shared/data` from the repository root). */
export const sharedData = resolve(repoRoot, '../shared/data');

/** True when the shared corpora are available (CI always has them). */
export const hasSharedData = existsSync(join(sharedData, 'corpora'));

if (!hasSharedData) {
  console.warn(`@rlpt/data tests: ${sharedData} is absent; tests on the real corpora are skipped.`);
}

export const corpus = {
  wikitextValid: join(sharedData, 'corpora/wikitext-2/valid.txt'),
  wikitextTest: join(sharedData, 'corpora/wikitext-2/test.txt'),
  shakespeare: join(sharedData, 'corpora/tinyshakespeare/input.txt'),
  benchmarks: join(sharedData, 'benchmarks'),
};

/** A fresh temp folder, removed by the returned cleanup. */
export function tempDir(prefix = 'rlpt-data-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
