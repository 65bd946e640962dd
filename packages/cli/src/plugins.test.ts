// A third-party backend added without editing rlpt: a plugin module registers it, every command resolves it.
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliRoot, runCli, useTempDirs } from './testing.js';

const makeTempDir = useTempDirs();

describe('rlpt plugins', () => {
  it('--plugin and RLPT_PLUGINS load a module whose backend every judge spec can use', {
    timeout: 60_000,
  }, async () => {
    const dir = await makeTempDir('rlpt-plugin-');
    await mkdir(join(dir, 'node_modules', '@rlpt'), { recursive: true });
    await symlink(join(cliRoot, 'node_modules', '@rlpt', 'spec'), join(dir, 'node_modules', '@rlpt', 'spec'));
    await writeFile(join(dir, 'package.json'), '{"type":"module"}');
    const plugin = join(dir, 'constant-plugin.mjs');
    await writeFile(
      plugin,
      `import { registerBackendProvider } from '@rlpt/spec';
registerBackendProvider({
  scheme: 'constant',
  description: 'answers every prompt with its target text',
  example: 'constant:Score: 1',
  async create(target) {
    return {
      specificationVersion: 'v1',
      provider: 'constant',
      modelId: target,
      capabilities: { logprobs: false, tokenIds: false, chat: true, seed: true, score: false },
      async generate(request) {
        return {
          results: request.prompts.map(() => ({ completions: [{ text: target, finishReason: 'stop' }] })),
          usage: { promptTokens: 0, completionTokens: 0 },
          warnings: [],
        };
      },
    };
  },
});
`,
    );
    const input = join(dir, 'items.jsonl');
    await writeFile(
      input,
      `${JSON.stringify({ prediction: 'one two three four', reference: 'five six seven eight' })}\n`,
    );
    const output = join(dir, 'out.jsonl');
    const run = await runCli([
      '--plugin',
      plugin,
      'judge',
      '--input',
      input,
      '--output',
      output,
      '--judge',
      'constant:Score: 1',
    ]);
    expect(run.stderr).not.toContain('error');
    expect(run.code).toBe(0);
    expect(JSON.parse((await readFile(output, 'utf8')).trim())).toMatchObject({
      status: 'ok',
      score: 1,
    });

    // Without the plugin the spec is refused, naming what is known.
    const without = await runCli([
      'judge',
      '--input',
      input,
      '--output',
      join(dir, 'out2.jsonl'),
      '--judge',
      'constant:x',
    ]);
    expect(without.code).not.toBe(0);
    expect(without.stderr).toMatch(/No judge provider for "constant:x"/);
    expect(without.stderr).toContain('openai:http://127.0.0.1:8000/v1');

    // The same plugin through the environment (the child inherits it).
    process.env.RLPT_PLUGINS = plugin;
    try {
      const fromEnv = await runCli([
        'judge',
        '--input',
        input,
        '--output',
        join(dir, 'out3.jsonl'),
        '--judge',
        'constant:Score: 0',
      ]);
      expect(fromEnv.code).toBe(0);
      expect(JSON.parse((await readFile(join(dir, 'out3.jsonl'), 'utf8')).trim())).toMatchObject({
        status: 'ok',
        score: 0,
      });
    } finally {
      delete process.env.RLPT_PLUGINS;
    }
  });
});
