import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startScriptedJudgeServer } from '@rlpt/reward/testing';
import { InvalidArgumentError } from '@rlpt/spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  backendProviders,
  createBackendFromSpec,
  createJudgeFromSpec,
  judgeProviders,
  loadPlugins,
  registerBackendProvider,
  registerBuiltins,
} from './index.js';

let dir: string;
beforeAll(async () => {
  registerBuiltins();
  dir = await mkdtemp(join(tmpdir(), 'rlpt-recipes-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the registry with the built-in providers', () => {
  it('lists openai, onnx and transformers backends and the lexical and generative judges', () => {
    expect(backendProviders().map((provider) => provider.scheme)).toEqual(
      expect.arrayContaining(['onnx', 'openai', 'transformers']),
    );
    expect(judgeProviders().map((provider) => provider.name)).toEqual(
      expect.arrayContaining(['generative', 'lexical']),
    );
    registerBuiltins(); // idempotent
  });

  it('resolves a lexical judge and rejects what the spec cannot mean, naming the known specs', async () => {
    const lexical = await createJudgeFromSpec('lexical', { tolerance: 0 });
    const [verdict] = await lexical.judge([
      {
        prediction: 'The keeper lit the lamp at dusk.',
        reference: 'The keeper lit the lamp at dusk. Ships came.',
      },
    ]);
    expect(verdict).toMatchObject({ status: 'ok', score: 1 });
    await expect(createJudgeFromSpec('lexical:x')).rejects.toThrow(/takes nothing after its name/);
    await expect(createJudgeFromSpec('gpt4')).rejects.toThrow(/No judge provider for "gpt4".*lexical/);
    await expect(createBackendFromSpec('vllm:http://x')).rejects.toThrow(/No backend provider.*openai:http/);
    await expect(createBackendFromSpec('openai:')).rejects.toThrow(/nothing after 'openai:'/);
    await expect(createBackendFromSpec('openai:http://127.0.0.1:1/v1')).rejects.toThrow(
      /needs the served model name/,
    );
  });

  it('a bare backend spec is a generative judge on that backend (openai: against a real HTTP server)', async () => {
    const server = await startScriptedJudgeServer();
    try {
      const judge = await createJudgeFromSpec(`openai:${server.baseURL}`, { model: server.modelName });
      const [verdict] = await judge.judge([
        {
          prediction: 'The keeper lit the lamp at dusk.',
          reference: 'The keeper lit the lamp at dusk. Ships came.',
        },
      ]);
      expect(verdict).toMatchObject({ status: 'ok', score: 1 });
      await judge.close?.();
      expect(server.requests).toBe(1);
    } finally {
      await server.close();
    }
  });
});

describe('a third-party provider', () => {
  it('registered by a plugin module is resolved like a built-in, by judges too', async () => {
    // What a plugin package's entry module does on import.
    const plugin = join(dir, 'echo-plugin.mjs');
    await writeFile(
      plugin,
      `import { registerBackendProvider } from '@rlpt/spec';
registerBackendProvider({
  scheme: 'echo',
  description: 'answers every prompt with the target',
  example: 'echo:Score: 1',
  async create(target) {
    return {
      specificationVersion: 'v1',
      provider: 'echo',
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
    // The plugin imports @rlpt/spec from its own location: resolve it through this package's copy.
    await writeFile(join(dir, 'package.json'), '{"type":"module"}');
    const { symlink, mkdir } = await import('node:fs/promises');
    await mkdir(join(dir, 'node_modules', '@rlpt'), { recursive: true });
    await symlink(
      join(import.meta.dirname, '..', 'node_modules', '@rlpt', 'spec'),
      join(dir, 'node_modules', '@rlpt', 'spec'),
    );
    await loadPlugins([plugin]);
    const backend = await createBackendFromSpec('echo:hello');
    expect(backend.modelId).toBe('hello');
    const judge = await createJudgeFromSpec('generative:echo:Score: 1');
    const [verdict] = await judge.judge([{ prediction: 'a b c d', reference: 'a b c d e' }]);
    expect(verdict).toMatchObject({ status: 'ok', score: 1 });
    expect(() =>
      registerBackendProvider({ scheme: 'echo', description: '', example: '', create: async () => backend }),
    ).toThrow(/already registered/);
    await expect(loadPlugins([join(dir, 'missing.mjs')])).rejects.toThrow(InvalidArgumentError);
  });
});
