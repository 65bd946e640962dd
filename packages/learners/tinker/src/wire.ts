/**
 * The Tinker API's JSON shapes (SDK ≤ 0.24.1, SkyRL) and their conversion to and from the protobuf
 * messages of SDK ≥ 0.25 (`proto.ts`), as `tinker/proto/request_conv.py` and `response_conv.py` do.
 */
import { InvalidInputError } from '@rlpt/spec';
import type {
  ProtoArrayRecord,
  ProtoBatchedTensor,
  ProtoDType,
  ProtoForwardBackwardOutput,
  ProtoForwardBackwardRequest,
  ProtoSampleResponse,
} from './proto.js';

export type TinkerDType = 'int64' | 'float32';

export interface TensorData {
  data: number[];
  dtype: TinkerDType;
  shape?: number[] | null;
}

export interface EncodedTextChunk {
  type: 'encoded_text';
  tokens: number[];
}

export interface ModelInput {
  chunks: EncodedTextChunk[];
}

export interface Datum {
  model_input: ModelInput;
  loss_fn_inputs: Record<string, TensorData>;
}

export type LossFn = 'cross_entropy' | 'importance_sampling' | 'ppo';

export interface ForwardBackwardInput {
  data: Datum[];
  loss_fn: string;
  loss_fn_config?: Record<string, number> | null;
}

/** A forward_backward (or forward) request, whichever encoding it arrived in. */
export interface ForwardBackwardRequest {
  model_id: string;
  seq_id?: number;
  forward_backward_input: ForwardBackwardInput;
  forward_only: boolean;
}

export interface LossFnOutput {
  logprobs: TensorData;
  elementwise_loss?: TensorData;
  [name: string]: TensorData | undefined;
}

export interface ForwardBackwardOutput {
  loss_fn_output_type: string;
  loss_fn_outputs: LossFnOutput[];
  metrics: Record<string, number>;
}

export type StopReason = 'length' | 'stop';

export interface SampledSequence {
  tokens: number[];
  logprobs?: number[] | null;
  stop_reason: StopReason;
}

export interface SampleResponse {
  sequences: SampledSequence[];
  prompt_logprobs?: number[] | null;
  topk_prompt_logprobs?: null;
}

export interface AdamParams {
  learning_rate: number;
  beta1: number;
  beta2: number;
  eps: number;
  weight_decay: number;
  grad_clip_norm: number;
}

export const PROTOBUF = 'application/x-protobuf';

const protoDtype: Record<TinkerDType, ProtoDType> = { int64: 'DTYPE_INT64', float32: 'DTYPE_FLOAT32' };

function jsonDtype(dtype: ProtoDType, where: string): TinkerDType {
  if (dtype === 'DTYPE_INT64' || dtype === 'DTYPE_INT32') return 'int64';
  if (dtype === 'DTYPE_FLOAT32' || dtype === 'DTYPE_BFLOAT16') return 'float32';
  throw new InvalidInputError({
    message: `tinker protobuf: ${where} has dtype ${dtype}; set DTYPE_FLOAT32 or DTYPE_INT64.`,
    reason: 'invalid-protobuf',
  });
}

/** The JSON form of a protobuf ForwardBackwardRequest (what SDK 0.24.1 would have sent). */
export function forwardBackwardRequestFromProto(proto: ProtoForwardBackwardRequest): ForwardBackwardRequest {
  return {
    model_id: proto.model_id,
    ...(proto.seq_id ? { seq_id: proto.seq_id } : {}),
    forward_only: proto.forward_only,
    forward_backward_input: {
      loss_fn: proto.loss_fn,
      loss_fn_config: proto.loss_fn_config,
      data: proto.data.map((datum, index) => ({
        model_input: {
          chunks: datum.model_input.map((chunk) => ({
            type: 'encoded_text' as const,
            tokens: chunk.encoded_text.tokens,
          })),
        },
        loss_fn_inputs: Object.fromEntries(
          Object.entries(datum.loss_fn_inputs).map(([name, tensor]) => [
            name,
            {
              data: tensor.dense,
              dtype: jsonDtype(tensor.dtype, `data[${index}].loss_fn_inputs.${name}`),
              ...(tensor.shape ? { shape: tensor.shape } : {}),
            },
          ]),
        ),
      })),
    },
  };
}

/** The protobuf form of a forward_backward request (what SDK 0.25 sends). */
export function forwardBackwardRequestToProto(request: ForwardBackwardRequest): ProtoForwardBackwardRequest {
  return {
    model_id: request.model_id,
    seq_id: request.seq_id ?? 0,
    loss_fn: request.forward_backward_input.loss_fn,
    loss_fn_config: request.forward_backward_input.loss_fn_config ?? {},
    forward_only: request.forward_only,
    data: request.forward_backward_input.data.map((datum) => ({
      model_input: datum.model_input.chunks.map((chunk) => ({ encoded_text: { tokens: chunk.tokens } })),
      loss_fn_inputs: Object.fromEntries(
        Object.entries(datum.loss_fn_inputs).map(([name, tensor]) => [
          name,
          {
            dense: tensor.data,
            dtype: protoDtype[tensor.dtype],
            shape: tensor.shape ?? [tensor.data.length],
          },
        ]),
      ),
    })),
  };
}

const elementBytes: Record<TinkerDType, number> = { int64: 8, float32: 4 };

/** One ArrayRecord of BatchedTensors (SkyRL's `serialize_result`). */
export function forwardBackwardOutputToProto(output: ForwardBackwardOutput): ProtoForwardBackwardOutput {
  const names = output.loss_fn_outputs.length > 0 ? Object.keys(output.loss_fn_outputs[0] ?? {}) : [];
  const fields: Record<string, ProtoBatchedTensor> = {};
  for (const name of names) {
    const dtype = output.loss_fn_outputs[0]?.[name]?.dtype ?? 'float32';
    const data: number[] = [];
    const offsets = [0];
    for (const datum of output.loss_fn_outputs) {
      const tensor = datum[name];
      if (!tensor)
        throw new InvalidInputError({
          reason: 'invalid-output',
          message: `loss_fn_outputs lack ${name} in some datums.`,
        });
      data.push(...tensor.data);
      offsets.push(data.length * elementBytes[dtype]);
    }
    fields[name] = { data, offsets, dtype: protoDtype[dtype], trailing_shape: [] };
  }
  const record: ProtoArrayRecord = { type_tag: '', num_datums: output.loss_fn_outputs.length, fields };
  return {
    loss_fn_output_type: output.loss_fn_output_type,
    loss_fn_outputs: output.loss_fn_outputs.length > 0 ? [record] : [],
    metrics: output.metrics,
  };
}

/** What the SDK's `deserialize_forward_backward_output` makes of the protobuf result. */
export function forwardBackwardOutputFromProto(proto: ProtoForwardBackwardOutput): ForwardBackwardOutput {
  const outputs: LossFnOutput[] = [];
  for (const record of proto.loss_fn_outputs) {
    const start = outputs.length;
    for (let index = 0; index < record.num_datums; index++) outputs.push({} as LossFnOutput);
    for (const [name, tensor] of Object.entries(record.fields)) {
      const dtype = jsonDtype(tensor.dtype, `fields.${name}`);
      const size =
        tensor.dtype === 'DTYPE_INT32' ? 4 : tensor.dtype === 'DTYPE_BFLOAT16' ? 2 : elementBytes[dtype];
      const trailing = tensor.trailing_shape.reduce((product, dim) => product * dim, 1);
      for (let index = 0; index < record.num_datums; index++) {
        const from = (tensor.offsets[index] ?? 0) / size;
        const to = (tensor.offsets[index + 1] ?? 0) / size;
        const data = tensor.data.slice(from, to);
        const target = outputs[start + index] as LossFnOutput;
        target[name] = { data, dtype, shape: [data.length / trailing, ...tensor.trailing_shape] };
      }
    }
  }
  return { loss_fn_output_type: proto.loss_fn_output_type, loss_fn_outputs: outputs, metrics: proto.metrics };
}

export function sampleResponseToProto(response: SampleResponse): ProtoSampleResponse {
  return {
    sequences: response.sequences.map((sequence) => ({
      stop_reason: sequence.stop_reason === 'length' ? 'STOP_REASON_LENGTH' : 'STOP_REASON_STOP',
      tokens: sequence.tokens,
      logprobs: sequence.logprobs ?? null,
    })),
    prompt_logprobs: response.prompt_logprobs ?? null,
    topk_prompt_logprobs: null,
    prompt_cache_hit_tokens: 0,
  };
}

/** What the SDK's `deserialize_sample_response` makes of the protobuf result (less the cache count). */
export function sampleResponseFromProto(proto: ProtoSampleResponse): SampleResponse {
  return {
    sequences: proto.sequences.map((sequence) => ({
      stop_reason: sequence.stop_reason === 'STOP_REASON_LENGTH' ? 'length' : 'stop',
      tokens: sequence.tokens,
      logprobs: sequence.logprobs,
    })),
    prompt_logprobs: proto.prompt_logprobs,
    topk_prompt_logprobs: null,
  };
}
