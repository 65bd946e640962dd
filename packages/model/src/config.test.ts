import { ConfigError } from '@rlpt/spec';
import { describe, expect, it } from 'vitest';
import { decoderConfigToJson, parseDecoderConfig } from './config.js';

const qwen3 = {
  model_type: 'qwen3',
  vocab_size: 151936,
  hidden_size: 1024,
  intermediate_size: 3072,
  num_hidden_layers: 28,
  num_attention_heads: 16,
  num_key_value_heads: 8,
  head_dim: 128,
  max_position_embeddings: 40960,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000,
  rope_scaling: null,
  tie_word_embeddings: true,
  attention_bias: false,
  hidden_act: 'silu',
  eos_token_id: 151645,
  bos_token_id: 151643,
};

function issuesOf(json: unknown): string[] {
  try {
    parseDecoderConfig(json, 'x/config.json');
  } catch (error) {
    expect(ConfigError.isInstance(error)).toBe(true);
    expect((error as ConfigError).message).toContain('x/config.json');
    return (error as ConfigError).issues.map((issue) => `${issue.path}: ${issue.message}`);
  }
  throw new Error('expected a ConfigError');
}

describe('parseDecoderConfig', () => {
  it('reads a Qwen3-0.6B config (head_dim decoupled from hidden/heads, q/k norm, tied)', () => {
    const config = parseDecoderConfig(qwen3);
    expect(config).toMatchObject({
      modelType: 'qwen3',
      headDim: 128,
      numKeyValueHeads: 8,
      qkNorm: true,
      attentionBias: false,
      tieWordEmbeddings: true,
      ropeTheta: 1e6,
      eosTokenId: 151645,
    });
  });

  it('fills Hugging Face defaults (llama: kv heads = heads, head_dim = hidden/heads, theta 1e4, untied)', () => {
    const config = parseDecoderConfig({
      model_type: 'llama',
      vocab_size: 32000,
      hidden_size: 4096,
      intermediate_size: 11008,
      num_hidden_layers: 32,
      num_attention_heads: 32,
    });
    expect(config).toMatchObject({
      numKeyValueHeads: 32,
      headDim: 128,
      ropeTheta: 10000,
      tieWordEmbeddings: false,
      qkNorm: false,
    });
  });

  it('gives qwen2 q/k/v biases but no output bias', () => {
    const config = parseDecoderConfig({
      ...qwen3,
      model_type: 'qwen2',
      head_dim: undefined,
      hidden_size: 896,
      num_attention_heads: 14,
      num_key_value_heads: 2,
    });
    expect(config).toMatchObject({ attentionBias: true, outputBias: false, qkNorm: false, headDim: 64 });
  });

  it('accepts the default rope type and transformers 5 rope_parameters', () => {
    expect(parseDecoderConfig({ ...qwen3, rope_scaling: { rope_type: 'default' } }).ropeTheta).toBe(1e6);
    const { rope_theta: _, ...withoutTheta } = qwen3;
    expect(
      parseDecoderConfig({ ...withoutTheta, rope_parameters: { rope_type: 'default', rope_theta: 5e5 } })
        .ropeTheta,
    ).toBe(5e5);
  });

  it('lists every problem at once', () => {
    const issues = issuesOf({
      ...qwen3,
      model_type: 'mistral',
      hidden_size: -1,
      num_key_value_heads: 3,
      rope_scaling: { rope_type: 'yarn', factor: 4 },
      hidden_act: 'gelu',
    });
    expect(issues.some((issue) => issue.startsWith('model_type: unsupported model_type "mistral"'))).toBe(
      true,
    );
    expect(issues.some((issue) => issue.startsWith('hidden_size: expected a positive integer'))).toBe(true);
    expect(issues.some((issue) => issue.startsWith('num_key_value_heads:'))).toBe(true);
    expect(
      issues.some((issue) => issue.startsWith('rope_scaling.rope_type: rope type "yarn" is not supported')),
    ).toBe(true);
    expect(issues.some((issue) => issue.startsWith('hidden_act:'))).toBe(true);
  });

  it('rejects sliding windows, missing sizes and non-objects', () => {
    expect(issuesOf({ ...qwen3, use_sliding_window: true })).toEqual([
      'use_sliding_window: sliding-window attention is not supported; set it to false',
    ]);
    expect(issuesOf({ model_type: 'llama' }).length).toBeGreaterThanOrEqual(4);
    expect(issuesOf([1, 2])).toEqual([': expected a JSON object']);
  });

  it('round-trips through decoderConfigToJson', () => {
    const config = parseDecoderConfig(qwen3);
    expect(parseDecoderConfig(decoderConfigToJson(config))).toEqual(config);
  });
});
