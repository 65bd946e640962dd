import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  decodeForwardBackwardOutput,
  decodeForwardBackwardRequest,
  decodeSampleResponse,
  encodeForwardBackwardOutput,
  encodeForwardBackwardRequest,
  encodeSampleResponse,
} from './proto.js';
import {
  type ForwardBackwardOutput,
  forwardBackwardOutputFromProto,
  forwardBackwardOutputToProto,
  forwardBackwardRequestFromProto,
  forwardBackwardRequestToProto,
  type SampleResponse,
  sampleResponseFromProto,
  sampleResponseToProto,
} from './wire.js';

const fixtures = fileURLToPath(new URL('../../../../../shared/reference/tinker-fixtures/', import.meta.url));
const present = existsSync(fixtures);

async function fixture(name: string): Promise<{ bytes: Uint8Array; json: Record<string, unknown> }> {
  const bytes = new Uint8Array(await readFile(`${fixtures}${name}.bin`));
  const json = JSON.parse(await readFile(`${fixtures}${name}.json`, 'utf8')) as Record<string, unknown>;
  return { bytes, json };
}

describe.skipIf(!present)('tinker protobuf fixtures (../shared/reference/tinker-fixtures)', () => {
  for (const name of ['fb-cross-entropy', 'fb-importance-sampling', 'fb-forward-only']) {
    it(`${name}: decodes to its JSON and re-encodes to the SDK's bytes`, async () => {
      const { bytes, json } = await fixture(name);
      const decoded = decodeForwardBackwardRequest(bytes);
      expect(decoded).toEqual(json.decoded);
      // The client path: JSON request → proto → bytes, identical to what the SDK wrote.
      const request = forwardBackwardRequestFromProto(decoded);
      expect(Buffer.from(encodeForwardBackwardRequest(forwardBackwardRequestToProto(request)))).toEqual(
        Buffer.from(bytes),
      );
    });
  }

  it('fb-output: decodes as the SDK does, and the JSON reply encodes to the same bytes', async () => {
    const { bytes, json } = await fixture('fb-output');
    const proto = decodeForwardBackwardOutput(bytes);
    expect(proto).toEqual(json.fields);
    expect(forwardBackwardOutputFromProto(proto)).toEqual(json.decoded);
    const encoded = encodeForwardBackwardOutput(
      forwardBackwardOutputToProto(json.json_reply as ForwardBackwardOutput),
    );
    expect(Buffer.from(encoded)).toEqual(Buffer.from(bytes));
  });

  it('sample-response: decodes as the SDK does, and the JSON reply encodes to the same bytes', async () => {
    const { bytes, json } = await fixture('sample-response');
    const proto = decodeSampleResponse(bytes);
    expect(proto).toEqual(json.fields);
    const { prompt_cache_hit_tokens: _hits, ...decoded } = json.decoded as Record<string, unknown>;
    expect(sampleResponseFromProto(proto)).toEqual(decoded);
    const encoded = encodeSampleResponse(sampleResponseToProto(json.json_reply as SampleResponse));
    expect(Buffer.from(encoded)).toEqual(Buffer.from(bytes));
  });
});

describe('tinker protobuf edge cases', () => {
  it('reads map entries in any order, defaults left out and an absent shape', () => {
    const bytes = encodeForwardBackwardRequest({
      model_id: 'm',
      seq_id: 0,
      loss_fn: 'cross_entropy',
      loss_fn_config: { b: 2, a: -1.5 },
      forward_only: false,
      data: [
        {
          model_input: [{ encoded_text: { tokens: [1, 2] } }],
          loss_fn_inputs: {
            weights: { dense: [0.5, 1], dtype: 'DTYPE_FLOAT32' },
            target_tokens: { dense: [2, 3], dtype: 'DTYPE_INT64' },
          },
        },
      ],
    });
    const decoded = decodeForwardBackwardRequest(bytes);
    expect(decoded.seq_id).toBe(0);
    expect(decoded.forward_only).toBe(false);
    expect(decoded.loss_fn_config).toEqual({ a: -1.5, b: 2 });
    expect(decoded.data[0]?.loss_fn_inputs.weights).toEqual({ dense: [0.5, 1], dtype: 'DTYPE_FLOAT32' });
    expect(Object.keys(decoded.data[0]?.loss_fn_inputs ?? {})).toEqual(['weights', 'target_tokens']);
  });

  it('a SampledSequence with STOP left out and empty logprobs reads as stop and null', () => {
    const bytes = encodeSampleResponse({
      sequences: [{ stop_reason: 'STOP_REASON_STOP', tokens: [4], logprobs: [] }],
      prompt_logprobs: null,
      topk_prompt_logprobs: null,
      prompt_cache_hit_tokens: 0,
    });
    expect(decodeSampleResponse(bytes).sequences).toEqual([
      { stop_reason: 'STOP_REASON_STOP', tokens: [4], logprobs: null },
    ]);
  });

  it('rejects truncated bytes and sparse tensors with a clear error', () => {
    const bytes = encodeForwardBackwardRequest({
      model_id: 'm',
      seq_id: 1,
      loss_fn: 'cross_entropy',
      loss_fn_config: {},
      forward_only: false,
      data: [],
    });
    expect(() => decodeForwardBackwardRequest(bytes.subarray(0, 2))).toThrow(/runs past the end/);
    // Datum { loss_fn_inputs { "w": Tensor { sparse_csr {} } } }
    const sparse = Uint8Array.from([0x1a, 0x09, 0x12, 0x07, 0x0a, 0x01, 0x77, 0x12, 0x02, 0x12, 0x00]);
    expect(() => decodeForwardBackwardRequest(sparse)).toThrow(/sparse_csr/);
  });
});
