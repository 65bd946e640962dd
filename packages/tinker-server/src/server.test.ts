import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  decodeForwardBackwardOutput,
  decodeForwardBackwardRequest,
  decodeSampleResponse,
  encodeForwardBackwardRequest,
  type ForwardBackwardOutput,
  forwardBackwardOutputFromProto,
  PROTOBUF,
  type SampleResponse,
  sampleResponseFromProto,
} from '@rlpt/learner-tinker';
import { createTinyModel, type TinyModel } from '@rlpt/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTinkerServer, type TinkerServer } from './index.js';

let root: string;
let model: TinyModel;
let server: TinkerServer;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rlpt-tinker-server-'));
  model = await createTinyModel({
    dir: join(root, 'tiny'),
    tokenizer: 'char',
    hiddenSize: 32,
    heads: 4,
    kvHeads: 2,
    intermediateSize: 48,
    seed: 5,
    std: 0.1,
  });
  server = await createTinkerServer({
    modelDir: model.dir,
    baseModel: 'tiny',
    pollTimeoutMs: 2000,
    seqGapTimeoutMs: 3000,
  });
});

afterAll(async () => {
  await server?.close();
  await rm(root, { recursive: true, force: true });
});

interface Reply {
  status: number;
  json?: Record<string, unknown>;
  bytes?: Uint8Array;
}

async function call(
  path: string,
  body?: unknown,
  options: { proto?: Uint8Array; accept?: boolean } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { 'content-type': options.proto ? PROTOBUF : 'application/json' };
  if (options.accept) headers.accept = PROTOBUF;
  const response = await fetch(`${server.url}${path}`, {
    method: body === undefined && !options.proto ? 'GET' : 'POST',
    headers,
    ...(options.proto ? { body: options.proto } : body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if ((response.headers.get('content-type') ?? '').startsWith(PROTOBUF)) {
    return { status: response.status, bytes: new Uint8Array(await response.arrayBuffer()) };
  }
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

/** Polls a future as the SDK does: first with allow_metadata_only, try_again/408 mean pending. */
async function result(requestId: unknown, accept = false): Promise<Reply> {
  expect(typeof requestId).toBe('string');
  for (let poll = 0; ; poll++) {
    const reply = await call(
      '/api/v1/retrieve_future',
      { request_id: requestId, allow_metadata_only: poll === 0 },
      { accept },
    );
    if (reply.status === 408 || reply.json?.type === 'try_again') continue;
    return reply;
  }
}

const sequence = [5, 9, 12, 7, 5, 9, 12, 7, 5, 9, 12, 7];
const ceDatum = (weights: number[] = new Array(11).fill(1)) => ({
  model_input: { chunks: [{ type: 'encoded_text', tokens: sequence.slice(0, -1) }] },
  loss_fn_inputs: {
    target_tokens: { data: sequence.slice(1), dtype: 'int64', shape: [11] },
    weights: { data: weights, dtype: 'float32', shape: [11] },
  },
});

async function newModel(session: string, seq = 0): Promise<string> {
  const created = await call('/api/v1/create_model', {
    session_id: session,
    model_seq_id: seq,
    base_model: 'tiny',
    lora_config: { rank: 8, seed: 1, train_unembed: true, train_mlp: true, train_attn: true },
    type: 'create_model',
  });
  expect(created.status).toBe(200);
  const done = await result(created.json?.request_id);
  expect(typeof done.json?.model_id).toBe('string');
  return done.json?.model_id as string;
}

describe('rlpt tinker server: the SDK call sequence (rl-engines.md §4.3a)', () => {
  let session: string;
  let modelId: string;

  it('client config, session, heartbeat, telemetry, capabilities', async () => {
    const config = await call('/api/v1/client/config', { sdk_version: '0.25.0' });
    expect(config.json).toMatchObject({ pjwt_auth_enabled: false, proto_write_fwdbwd: false });
    const created = await call('/api/v1/create_session', {
      tags: [],
      user_metadata: {},
      sdk_version: '0.25.0',
      type: 'create_session',
    });
    session = created.json?.session_id as string;
    expect(typeof session).toBe('string');
    expect(
      (await call('/api/v1/session_heartbeat', { session_id: session, type: 'session_heartbeat' })).status,
    ).toBe(200);
    expect((await call('/api/v1/telemetry', { events: [] })).json).toEqual({ status: 'accepted' });
    expect((await call('/api/v1/get_server_capabilities')).json).toEqual({
      supported_models: [{ model_name: 'tiny', max_context_length: model.config.maxPositionEmbeddings }],
    });
    expect((await call('/api/v1/healthz')).json).toEqual({ status: 'ok' });
  });

  it('create_model is a future; get_info echoes the LoRA rank', async () => {
    modelId = await newModel(session);
    const info = await call('/api/v1/get_info', { model_id: modelId, type: 'get_info' });
    expect(info.json).toMatchObject({
      model_id: modelId,
      is_lora: true,
      lora_rank: 8,
      model_data: { model_name: 'tiny' },
    });
  });

  it('pipelined forward_backward + optim_step are applied in seq_id order (optim_step sent first)', async () => {
    // optim_step (seq 2) arrives before forward_backward (seq 1): the server must hold it.
    const optim = await call('/api/v1/optim_step', {
      model_id: modelId,
      seq_id: 2,
      adam_params: {
        learning_rate: 1e-2,
        beta1: 0.9,
        beta2: 0.95,
        eps: 1e-12,
        weight_decay: 0,
        grad_clip_norm: 0,
      },
      type: 'optim_step',
    });
    const forwardBackward = await call('/api/v1/forward_backward', {
      model_id: modelId,
      seq_id: 1,
      forward_backward_input: { data: [ceDatum()], loss_fn: 'cross_entropy' },
      type: 'forward_backward',
    });
    const [fb, step] = await Promise.all([
      result(forwardBackward.json?.request_id),
      result(optim.json?.request_id),
    ]);
    const output = fb.json as unknown as ForwardBackwardOutput;
    expect(output.loss_fn_output_type).toBe('scalar');
    expect(output.loss_fn_outputs[0]?.logprobs.data).toHaveLength(11);
    const loss = output.loss_fn_outputs[0]?.elementwise_loss?.data.reduce((a, b) => a + b, 0) ?? 0;
    expect(output.metrics['loss:sum']).toBeCloseTo(loss, 5);
    expect((step.json?.metrics as Record<string, number> | undefined)?.grad_norm).toBeGreaterThan(0);
    // A re-sent (model_id, seq_id) returns the original future; another body under it gets 409.
    const again = await call('/api/v1/forward_backward', {
      model_id: modelId,
      seq_id: 1,
      forward_backward_input: { data: [ceDatum()], loss_fn: 'cross_entropy' },
      type: 'forward_backward',
    });
    expect(again.json?.request_id).toBe(forwardBackward.json?.request_id);
    const conflict = await call('/api/v1/forward_backward', {
      model_id: modelId,
      seq_id: 1,
      forward_backward_input: { data: [ceDatum(new Array(11).fill(2))], loss_fn: 'cross_entropy' },
    });
    expect(conflict.status).toBe(409);
    // The step lowered the loss on the trained sequence.
    const forward = await call('/api/v1/forward', {
      model_id: modelId,
      seq_id: 3,
      forward_input: { data: [ceDatum()], loss_fn: 'cross_entropy' },
    });
    const after = (await result(forward.json?.request_id)).json as unknown as ForwardBackwardOutput;
    expect(after.metrics['loss:sum']).toBeLessThan(output.metrics['loss:sum'] as number);
  });

  let samplerPath: string;
  let samplingSession: string;
  it('both save_weights_for_sampler variants, a sampling session and asample', async () => {
    const named = await call('/api/v1/save_weights_for_sampler', {
      model_id: modelId,
      seq_id: 4,
      path: 'step-1',
      type: 'save_weights_for_sampler',
    });
    samplerPath = (await result(named.json?.request_id)).json?.path as string;
    expect(samplerPath).toBe(`tinker://${modelId}/sampler_weights/step-1`);
    const unnamed = await call('/api/v1/save_weights_for_sampler', {
      model_id: modelId,
      seq_id: 5,
      sampling_session_seq_id: 0,
      type: 'save_weights_for_sampler',
    });
    const variantB = (await result(unnamed.json?.request_id)).json;
    expect(variantB?.path).toBeNull();
    expect(typeof variantB?.sampling_session_id).toBe('string');
    const sampler = await call('/api/v1/create_sampling_session', {
      session_id: session,
      sampling_session_seq_id: 1,
      model_path: samplerPath,
      type: 'create_sampling_session',
    });
    samplingSession = sampler.json?.sampling_session_id as string;
    expect((await call(`/api/v1/samplers/${samplingSession}`)).json).toEqual({
      sampler_id: samplingSession,
      base_model: 'tiny',
      model_path: samplerPath,
    });
    const body = (seq: number, sessionId: string) => ({
      sampling_session_id: sessionId,
      seq_id: seq,
      num_samples: 3,
      prompt: { chunks: [{ type: 'encoded_text', tokens: [5, 9, 12] }] },
      sampling_params: { max_tokens: 6, seed: 11, temperature: 1, top_k: -1, top_p: 1 },
      prompt_logprobs: false,
      topk_prompt_logprobs: 0,
      type: 'sample',
    });
    const [a, b] = await Promise.all([
      call('/api/v1/asample', body(0, samplingSession)).then((reply) => result(reply.json?.request_id)),
      call('/api/v1/asample', body(0, variantB?.sampling_session_id as string)).then((reply) =>
        result(reply.json?.request_id),
      ),
    ]);
    const sampled = a.json as unknown as SampleResponse;
    expect(sampled.sequences).toHaveLength(3);
    for (const sequenceOut of sampled.sequences) {
      expect(['length', 'stop']).toContain(sequenceOut.stop_reason);
      expect(sequenceOut.logprobs).toHaveLength(sequenceOut.tokens.length);
    }
    // Same weights, same seed: both sampler variants sample the same tokens.
    expect((b.json as unknown as SampleResponse).sequences).toEqual(sampled.sequences);
  });

  it("sampled logprobs equal the trainer's teacher-forced logprobs of the same tokens", async () => {
    const prompt = [5, 9, 12];
    const reply = await call('/api/v1/asample', {
      sampling_session_id: samplingSession,
      seq_id: 1,
      num_samples: 2,
      prompt: { chunks: [{ type: 'encoded_text', tokens: prompt }] },
      sampling_params: { max_tokens: 8, seed: 3, temperature: 1 },
    });
    const sampled = (await result(reply.json?.request_id)).json as unknown as SampleResponse;
    const data = sampled.sequences.map((sequenceOut) => {
      const tokens = [...prompt, ...sequenceOut.tokens];
      return {
        model_input: { chunks: [{ type: 'encoded_text', tokens: tokens.slice(0, -1) }] },
        loss_fn_inputs: {
          target_tokens: { data: tokens.slice(1), dtype: 'int64' },
          weights: { data: new Array(tokens.length - 1).fill(0), dtype: 'float32' },
        },
      };
    });
    const forward = await call('/api/v1/forward', {
      model_id: modelId,
      seq_id: 6,
      forward_input: { data, loss_fn: 'cross_entropy' },
    });
    const output = (await result(forward.json?.request_id)).json as unknown as ForwardBackwardOutput;
    sampled.sequences.forEach((sequenceOut, index) => {
      const teacher = output.loss_fn_outputs[index]?.logprobs.data.slice(prompt.length - 1) ?? [];
      expect(teacher).toHaveLength(sequenceOut.tokens.length);
      teacher.forEach((value, t) => {
        expect(Math.abs(value - (sequenceOut.logprobs?.[t] as number))).toBeLessThan(1e-4);
      });
    });
  });

  it('save_weights → weights_info → create_model → load_weights resumes with the same logprobs and optimizer', async () => {
    const saved = await call('/api/v1/save_weights', {
      model_id: modelId,
      seq_id: 7,
      path: 'ckpt-1',
      overwrite: false,
      type: 'save_weights',
    });
    const path = (await result(saved.json?.request_id)).json?.path as string;
    expect(path).toBe(`tinker://${modelId}/weights/ckpt-1`);
    expect((await call('/api/v1/weights_info', { tinker_path: path })).json).toEqual({
      base_model: 'tiny',
      is_lora: true,
      lora_rank: 8,
    });
    const resumed = await newModel(session, 1);
    const load = await call('/api/v1/load_weights', {
      model_id: resumed,
      path,
      optimizer: true,
      seq_id: 1,
      type: 'load_weights',
    });
    expect((await result(load.json?.request_id)).json?.path).toBe(path);
    const forward = async (id: string, seq: number) => {
      const reply = await call('/api/v1/forward', {
        model_id: id,
        seq_id: seq,
        forward_input: { data: [ceDatum()], loss_fn: 'cross_entropy' },
      });
      return ((await result(reply.json?.request_id)).json as unknown as ForwardBackwardOutput)
        .loss_fn_outputs[0]?.logprobs.data;
    };
    expect(await forward(resumed, 2)).toEqual(await forward(modelId, 8));
    // One more identical step on both: the optimizer state came along, so they stay identical.
    const step = async (id: string, seq: number) => {
      const fb = await call('/api/v1/forward_backward', {
        model_id: id,
        seq_id: seq,
        forward_backward_input: { data: [ceDatum()], loss_fn: 'cross_entropy' },
      });
      const optim = await call('/api/v1/optim_step', {
        model_id: id,
        seq_id: seq + 1,
        adam_params: {
          learning_rate: 1e-2,
          beta1: 0.9,
          beta2: 0.95,
          eps: 1e-12,
          weight_decay: 0,
          grad_clip_norm: 0,
        },
      });
      await Promise.all([result(fb.json?.request_id), result(optim.json?.request_id)]);
    };
    await step(resumed, 3);
    await step(modelId, 9);
    expect(await forward(resumed, 5)).toEqual(await forward(modelId, 11));
  });

  it('bad requests get a clear error and the server keeps serving', async () => {
    const badJson = await fetch(`${server.url}/api/v1/create_session`, { method: 'POST', body: '{not json' });
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as { detail: string }).detail).toMatch(/not valid JSON/);
    const unknownModel = await call('/api/v1/forward_backward', {
      model_id: 'nope',
      forward_backward_input: { data: [], loss_fn: 'cross_entropy' },
    });
    expect(unknownModel.status).toBe(404);
    expect(unknownModel.json?.detail).toMatch(/unknown model_id "nope"/);
    const badLoss = await call('/api/v1/forward_backward', {
      model_id: modelId,
      seq_id: 12,
      forward_backward_input: { data: [ceDatum()], loss_fn: 'dro' },
    });
    const failed = await result(badLoss.json?.request_id);
    expect(failed.json).toMatchObject({ category: 'user' });
    expect(failed.json?.error).toMatch(/loss_fn "dro" is not supported/);
    // A token id beyond the vocabulary fails its future (SDK error shape), not the server.
    const outOfRange = await call('/api/v1/forward', {
      model_id: modelId,
      seq_id: 13,
      forward_input: {
        data: [
          {
            model_input: { chunks: [{ type: 'encoded_text', tokens: [5, 99999] }] },
            loss_fn_inputs: { target_tokens: { data: [99999, 5], dtype: 'int64' } },
          },
        ],
        loss_fn: 'cross_entropy',
      },
    });
    expect((await result(outOfRange.json?.request_id)).json?.error).toMatch(/vocab|range/i);
    expect((await call('/api/v1/retrieve_future', { request_id: 'missing' })).status).toBe(404);
    expect((await call('/api/v1/healthz')).json).toEqual({ status: 'ok' });
  });

  const fixtures = fileURLToPath(new URL('../../../../shared/reference/tinker-fixtures/', import.meta.url));
  it.skipIf(!existsSync(fixtures))(
    "protobuf: the SDK fixtures train the model, and protobuf results decode to the JSON results' numbers",
    async () => {
      const protoModel = await newModel(session, 2);
      const jsonModel = await newModel(session, 3);
      let seq = 0;
      for (const name of ['fb-cross-entropy', 'fb-importance-sampling', 'fb-forward-only']) {
        seq++;
        const request = decodeForwardBackwardRequest(
          new Uint8Array(await readFile(`${fixtures}${name}.bin`)),
        );
        const viaProto = await call('/api/v1/forward_backward', undefined, {
          proto: encodeForwardBackwardRequest({ ...request, model_id: protoModel, seq_id: seq }),
        });
        const fixture = JSON.parse(await readFile(`${fixtures}${name}.json`, 'utf8')) as {
          decoded: typeof request;
        };
        const decoded = fixture.decoded;
        const viaJson = await call(decoded.forward_only ? '/api/v1/forward' : '/api/v1/forward_backward', {
          model_id: jsonModel,
          seq_id: seq,
          [decoded.forward_only ? 'forward_input' : 'forward_backward_input']: {
            loss_fn: decoded.loss_fn,
            loss_fn_config: decoded.loss_fn_config,
            data: decoded.data.map((datum) => ({
              model_input: {
                chunks: [{ type: 'encoded_text', tokens: datum.model_input[0]?.encoded_text.tokens }],
              },
              loss_fn_inputs: Object.fromEntries(
                Object.entries(datum.loss_fn_inputs).map(([key, value]) => [
                  key,
                  {
                    data: value.dense,
                    dtype: value.dtype === 'DTYPE_INT64' ? 'int64' : 'float32',
                    shape: value.shape,
                  },
                ]),
              ),
            })),
          },
        });
        const protoReply = await result(viaProto.json?.request_id, true);
        expect(protoReply.bytes).toBeDefined();
        const fromProto = forwardBackwardOutputFromProto(
          decodeForwardBackwardOutput(protoReply.bytes as Uint8Array),
        );
        const fromJson = (await result(viaJson.json?.request_id)).json as unknown as ForwardBackwardOutput;
        expect(fromProto).toEqual(fromJson);
        expect(fromProto.loss_fn_outputs).toHaveLength(decoded.data.length);
        // The same future polled without Accept stays JSON.
        expect((await result(viaProto.json?.request_id)).json).toEqual(fromJson);
        seq++;
        const optim = {
          learning_rate: 1e-2,
          beta1: 0.9,
          beta2: 0.95,
          eps: 1e-12,
          weight_decay: 0,
          grad_clip_norm: 0,
        };
        if (!decoded.forward_only) {
          await Promise.all([
            call('/api/v1/optim_step', { model_id: protoModel, seq_id: seq, adam_params: optim }).then(
              (reply) => result(reply.json?.request_id),
            ),
            call('/api/v1/optim_step', { model_id: jsonModel, seq_id: seq, adam_params: optim }).then(
              (reply) => result(reply.json?.request_id),
            ),
          ]);
        } else seq--;
      }
      // A sample result polled with Accept: protobuf.
      const reply = await call('/api/v1/asample', {
        base_model: 'tiny',
        num_samples: 2,
        prompt: { chunks: [{ type: 'encoded_text', tokens: [5, 9] }] },
        sampling_params: { max_tokens: 4, seed: 1, stop: [7] },
      });
      const protoSample = await result(reply.json?.request_id, true);
      const jsonSample = (await result(reply.json?.request_id)).json as unknown as SampleResponse;
      const fromProto = sampleResponseFromProto(decodeSampleResponse(protoSample.bytes as Uint8Array));
      expect(fromProto.sequences).toEqual(jsonSample.sequences);
      // A broken protobuf body is a 400 that names the problem.
      const broken = await call('/api/v1/forward_backward', undefined, {
        proto: Uint8Array.of(0x1a, 0x50, 0x01),
      });
      expect(broken.status).toBe(400);
      expect(broken.json?.detail).toMatch(/runs past the end/);
    },
  );
});

describe('finished futures expire', () => {
  it('drops a finished future after futureTtlMs: retrieve_future then answers 404', async () => {
    const short = await createTinkerServer({ modelDir: model.dir, baseModel: 'tiny', futureTtlMs: 50 });
    try {
      const session = (await (
        await fetch(`${short.url}/api/v1/create_session`, { method: 'POST', body: '{}' })
      ).json()) as { session_id: string };
      const created = (await (
        await fetch(`${short.url}/api/v1/create_model`, {
          method: 'POST',
          body: JSON.stringify({
            session_id: session.session_id,
            base_model: 'tiny',
            lora_config: { rank: 4 },
          }),
        })
      ).json()) as { request_id: string };
      const poll = () =>
        fetch(`${short.url}/api/v1/retrieve_future`, {
          method: 'POST',
          body: JSON.stringify({ request_id: created.request_id }),
        });
      expect((await poll()).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect((await poll()).status).toBe(404);
    } finally {
      await short.close();
    }
  });
});

describe('listening', () => {
  it('a port in use is a clear error naming the port and --port', async () => {
    const first = await createTinkerServer({ modelDir: model.dir, baseModel: 'tiny' });
    try {
      const port = Number(new URL(first.url).port);
      const error = await createTinkerServer({ modelDir: model.dir, baseModel: 'tiny', port }).catch(
        (caught: unknown) => caught as Error,
      );
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toBe(
        `Cannot listen on 127.0.0.1:${port}: the port is in use. Pick another with --port (0 picks a free one).`,
      );
    } finally {
      await first.close();
    }
  });
});
