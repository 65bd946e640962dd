import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'tsup';
import { afterAll, describe, expect, it } from 'vitest';
import { buildCleanCorpus, readTree } from '../test/corpus.js';
import { hasSharedData, tempDir } from '../test/helpers.js';
import { type PrepareOptions, prepare } from './index.js';

const packageRoot = fileURLToPath(new URL('..', import.meta.url));
// Inside the package, so the built code resolves hyparquet, tokenizers and zod from its node_modules.
const distDir = join(packageRoot, 'node_modules', `.rlpt-dist-test-${process.pid}`);
const { dir, cleanup } = tempDir('rlpt-dist-');
afterAll(() => {
  cleanup();
  rmSync(distDir, { recursive: true, force: true });
});

describe.skipIf(!hasSharedData)('built package (needs ../shared/data)', () => {
  it('runs worker threads from dist/ with plain node, byte-identical to the sources', async () => {
    mkdirSync(distDir, { recursive: true });
    // The package's own entries; workspace packages are bundled from their sources so the test does not
    // depend on their dist/ being built, while the worker still starts as dist/worker.js, without tsx.
    await build({
      config: false,
      entry: { index: join(packageRoot, 'src/index.ts'), worker: join(packageRoot, 'src/worker.ts') },
      outDir: distDir,
      format: ['esm'],
      target: 'node20',
      dts: false,
      silent: true,
      noExternal: [/^@rlpt\//],
      esbuildOptions(options) {
        options.conditions = ['@rlpt/source'];
      },
    });
    expect(existsSync(join(distDir, 'worker.js'))).toBe(true);

    const input = buildCleanCorpus(dir, { articles: 2, shakespeareLines: 120, paragraphs: 8 });
    const options: Omit<PrepareOptions, 'out'> = {
      inputs: [input],
      formats: ['samples', 'verl'],
      idField: 'id',
      workers: 2,
      validationFraction: 0.2,
    };
    await prepare({ ...options, out: join(dir, 'from-source') });

    const script = `
      import { prepare } from ${JSON.stringify(pathToFileURL(join(distDir, 'index.js')).href)};
      const { stats } = await prepare(${JSON.stringify({ ...options, out: join(dir, 'from-dist') })});
      process.stdout.write(JSON.stringify({ samples: stats.samples.total, workers: stats.run.workers }));
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    const result = JSON.parse(stdout) as { samples: number; workers: number };
    expect(result.workers).toBe(2);
    expect(result.samples).toBeGreaterThan(50);
    const skip = (path: string) => path === '.rlpt-prepare' || path === 'stats.json';
    const fromSource = readTree(join(dir, 'from-source'), skip);
    const fromDist = readTree(join(dir, 'from-dist'), skip);
    expect([...fromDist.keys()]).toEqual([...fromSource.keys()]);
    for (const [path, bytes] of fromSource) expect(fromDist.get(path)?.equals(bytes), path).toBe(true);
  }, 120_000);
});
