/**
 * A hand-written proto3 reader/writer for the `tinker_public` messages the SDK ≥ 0.25 puts on the wire
 * (schema: `tinker_public.proto`, rebuilt from the SDK's descriptor). Fifteen small messages do not
 * justify a protobuf runtime: this file is the whole codec, checked byte for byte against bytes the SDK
 * and SkyRL produced.
 */
import { InvalidInputError } from '@rlpt/spec';

// ---------------------------------------------------------------- proto-level shapes (as the fixtures show them)

export type ProtoDType =
  | 'DTYPE_UNSPECIFIED'
  | 'DTYPE_FLOAT32'
  | 'DTYPE_INT64'
  | 'DTYPE_INT32'
  | 'DTYPE_BFLOAT16';
const dtypeNames: ProtoDType[] = [
  'DTYPE_UNSPECIFIED',
  'DTYPE_FLOAT32',
  'DTYPE_INT64',
  'DTYPE_INT32',
  'DTYPE_BFLOAT16',
];

export interface ProtoTensor {
  dense: number[];
  dtype: ProtoDType;
  shape?: number[];
}
export interface ProtoChunk {
  encoded_text: { tokens: number[] };
}
export interface ProtoDatum {
  model_input: ProtoChunk[];
  loss_fn_inputs: Record<string, ProtoTensor>;
}
export interface ProtoForwardBackwardRequest {
  model_id: string;
  seq_id: number;
  data: ProtoDatum[];
  loss_fn: string;
  loss_fn_config: Record<string, number>;
  forward_only: boolean;
}
export interface ProtoBatchedTensor {
  data: number[];
  /** Byte offsets, num_datums + 1 entries. */
  offsets: number[];
  dtype: ProtoDType;
  trailing_shape: number[];
}
export interface ProtoArrayRecord {
  type_tag: string;
  num_datums: number;
  fields: Record<string, ProtoBatchedTensor>;
}
export interface ProtoForwardBackwardOutput {
  loss_fn_output_type: string;
  loss_fn_outputs: ProtoArrayRecord[];
  metrics: Record<string, number>;
}
export interface ProtoSampledSequence {
  stop_reason: 'STOP_REASON_STOP' | 'STOP_REASON_LENGTH';
  tokens: number[];
  logprobs: number[] | null;
}
export interface ProtoSampleResponse {
  sequences: ProtoSampledSequence[];
  prompt_logprobs: number[] | null;
  topk_prompt_logprobs: null;
  prompt_cache_hit_tokens: number;
}

// ---------------------------------------------------------------- writer

class Writer {
  private chunks: number[] = [];
  varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.chunks.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.chunks.push(Number(v));
  }
  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }
  bytes(field: number, data: Uint8Array): void {
    this.tag(field, 2);
    this.varint(data.length);
    for (const byte of data) this.chunks.push(byte);
  }
  string(field: number, value: string): void {
    this.bytes(field, new TextEncoder().encode(value));
  }
  double(field: number, value: number): void {
    this.tag(field, 1);
    const buffer = new Uint8Array(8);
    new DataView(buffer.buffer).setFloat64(0, value, true);
    for (const byte of buffer) this.chunks.push(byte);
  }
  uint(field: number, value: number): void {
    this.tag(field, 0);
    this.varint(value);
  }
  packedInt64(field: number, values: readonly number[]): void {
    const inner = new Writer();
    for (const value of values) inner.varint(value);
    this.bytes(field, inner.finish());
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

function encodeArray(values: readonly number[], dtype: ProtoDType): Uint8Array {
  switch (dtype) {
    case 'DTYPE_FLOAT32':
      return new Uint8Array(Float32Array.from(values).buffer);
    case 'DTYPE_INT64':
      return new Uint8Array(BigInt64Array.from(values, (value) => BigInt(value)).buffer);
    case 'DTYPE_INT32':
      return new Uint8Array(Int32Array.from(values).buffer);
    default:
      throw new InvalidInputError({
        reason: 'invalid-dtype',
        message: `tinker protobuf: cannot encode dtype ${dtype}.`,
      });
  }
}

function int32Bytes(values: readonly number[]): Uint8Array {
  return new Uint8Array(Int32Array.from(values).buffer);
}

function float32Bytes(values: readonly number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

/** `tinker_public.ForwardBackwardRequest` bytes, fields and map entries in the order given. */
export function encodeForwardBackwardRequest(request: ProtoForwardBackwardRequest): Uint8Array {
  const writer = new Writer();
  if (request.model_id) writer.string(1, request.model_id);
  if (request.seq_id) writer.uint(2, request.seq_id);
  for (const datum of request.data) {
    const datumWriter = new Writer();
    for (const chunk of datum.model_input) {
      const text = new Writer();
      text.bytes(1, int32Bytes(chunk.encoded_text.tokens));
      const chunkWriter = new Writer();
      chunkWriter.bytes(1, text.finish());
      datumWriter.bytes(1, chunkWriter.finish());
    }
    for (const [name, tensor] of Object.entries(datum.loss_fn_inputs)) {
      const tensorWriter = new Writer();
      tensorWriter.bytes(1, encodeArray(tensor.dense, tensor.dtype));
      const dtype = dtypeNames.indexOf(tensor.dtype);
      if (dtype > 0) tensorWriter.uint(3, dtype);
      if (tensor.shape && tensor.shape.length > 0) tensorWriter.packedInt64(4, tensor.shape);
      const entry = new Writer();
      entry.string(1, name);
      entry.bytes(2, tensorWriter.finish());
      datumWriter.bytes(2, entry.finish());
    }
    writer.bytes(3, datumWriter.finish());
  }
  if (request.loss_fn) writer.string(4, request.loss_fn);
  for (const [key, value] of Object.entries(request.loss_fn_config)) {
    const entry = new Writer();
    entry.string(1, key);
    entry.double(2, value);
    writer.bytes(5, entry.finish());
  }
  if (request.forward_only) writer.uint(6, 1);
  return writer.finish();
}

/** `tinker_public.ForwardBackwardOutput` bytes. */
export function encodeForwardBackwardOutput(output: ProtoForwardBackwardOutput): Uint8Array {
  const writer = new Writer();
  if (output.loss_fn_output_type) writer.string(1, output.loss_fn_output_type);
  for (const record of output.loss_fn_outputs) {
    const recordWriter = new Writer();
    if (record.type_tag) recordWriter.string(1, record.type_tag);
    for (const [name, tensor] of Object.entries(record.fields)) {
      const tensorWriter = new Writer();
      tensorWriter.bytes(1, encodeArray(tensor.data, tensor.dtype));
      tensorWriter.bytes(2, encodeArray(tensor.offsets, 'DTYPE_INT64'));
      const dtype = dtypeNames.indexOf(tensor.dtype);
      if (dtype > 0) tensorWriter.uint(3, dtype);
      if (tensor.trailing_shape.length > 0) tensorWriter.packedInt64(4, tensor.trailing_shape);
      const entry = new Writer();
      entry.string(1, name);
      entry.bytes(2, tensorWriter.finish());
      recordWriter.bytes(2, entry.finish());
    }
    if (record.num_datums) recordWriter.uint(3, record.num_datums);
    writer.bytes(2, recordWriter.finish());
  }
  for (const [key, value] of Object.entries(output.metrics)) {
    const entry = new Writer();
    entry.string(1, key);
    entry.double(2, value);
    writer.bytes(3, entry.finish());
  }
  return writer.finish();
}

/** `tinker_public.SampleResponse` bytes. */
export function encodeSampleResponse(response: ProtoSampleResponse): Uint8Array {
  const writer = new Writer();
  for (const sequence of response.sequences) {
    const sequenceWriter = new Writer();
    if (sequence.stop_reason === 'STOP_REASON_LENGTH') sequenceWriter.uint(1, 1);
    sequenceWriter.bytes(2, int32Bytes(sequence.tokens));
    if (sequence.logprobs !== null) sequenceWriter.bytes(3, float32Bytes(sequence.logprobs));
    writer.bytes(1, sequenceWriter.finish());
  }
  if (response.prompt_logprobs !== null) writer.bytes(2, float32Bytes(response.prompt_logprobs));
  if (response.prompt_cache_hit_tokens) writer.uint(4, response.prompt_cache_hit_tokens);
  return writer.finish();
}

// ---------------------------------------------------------------- reader

interface Field {
  number: number;
  wire: number;
  /** Varint value (wire 0). */
  varint?: bigint;
  /** Length-delimited payload (wire 2) or fixed bytes (wires 1 and 5). */
  bytes?: Uint8Array;
}

function fail(message: string): never {
  throw new InvalidInputError({ message: `tinker protobuf: ${message}`, reason: 'invalid-protobuf' });
}

function readFields(buffer: Uint8Array, what: string): Field[] {
  const fields: Field[] = [];
  let position = 0;
  const readVarint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (position >= buffer.length) fail(`${what}: truncated varint at byte ${position}.`);
      const byte = buffer[position++] as number;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) fail(`${what}: varint longer than 10 bytes at byte ${position}.`);
    }
  };
  while (position < buffer.length) {
    const key = Number(readVarint());
    const number = key >>> 3;
    const wire = key & 7;
    if (number === 0) fail(`${what}: field number 0 at byte ${position}.`);
    if (wire === 0) fields.push({ number, wire, varint: readVarint() });
    else if (wire === 2) {
      const length = Number(readVarint());
      if (position + length > buffer.length)
        fail(`${what}: field ${number} runs past the end (${length} bytes at ${position}).`);
      fields.push({ number, wire, bytes: buffer.subarray(position, position + length) });
      position += length;
    } else if (wire === 1 || wire === 5) {
      const size = wire === 1 ? 8 : 4;
      if (position + size > buffer.length) fail(`${what}: truncated fixed field ${number}.`);
      fields.push({ number, wire, bytes: buffer.subarray(position, position + size) });
      position += size;
    } else fail(`${what}: unsupported wire type ${wire} (field ${number}).`);
  }
  return fields;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function decodeArray(bytes: Uint8Array, dtype: ProtoDType, what: string): number[] {
  const data = view(bytes);
  const size = dtype === 'DTYPE_INT64' ? 8 : dtype === 'DTYPE_BFLOAT16' ? 2 : 4;
  if (bytes.length % size !== 0)
    fail(`${what}: ${bytes.length} bytes is not a whole number of ${dtype} values.`);
  const out: number[] = new Array(bytes.length / size);
  for (let index = 0; index < out.length; index++) {
    const offset = index * size;
    switch (dtype) {
      case 'DTYPE_FLOAT32':
        out[index] = data.getFloat32(offset, true);
        break;
      case 'DTYPE_INT64':
        out[index] = Number(data.getBigInt64(offset, true));
        break;
      case 'DTYPE_INT32':
        out[index] = data.getInt32(offset, true);
        break;
      case 'DTYPE_BFLOAT16': {
        const scratch = new DataView(new ArrayBuffer(4));
        scratch.setUint16(2, data.getUint16(offset, true));
        out[index] = scratch.getFloat32(0);
        break;
      }
      default:
        fail(`${what}: tensor dtype is ${dtype}; expected DTYPE_FLOAT32, DTYPE_INT64 or DTYPE_INT32.`);
    }
  }
  return out;
}

function dtypeOf(value: bigint | undefined): ProtoDType {
  const name = dtypeNames[Number(value ?? 0n)];
  if (!name) fail(`unknown DType ${String(value)}.`);
  return name;
}

function packedInt64(field: Field): number[] {
  if (field.wire === 0) return [Number(BigInt.asIntN(64, field.varint ?? 0n))];
  const values: number[] = [];
  for (const inner of readFieldsRaw(field.bytes ?? new Uint8Array())) values.push(inner);
  return values;
}

function readFieldsRaw(bytes: Uint8Array): number[] {
  const values: number[] = [];
  let position = 0;
  while (position < bytes.length) {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (position >= bytes.length) fail('truncated packed varint.');
      const byte = bytes[position++] as number;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) break;
      shift += 7n;
    }
    values.push(Number(BigInt.asIntN(64, result)));
  }
  return values;
}

function mapEntry(bytes: Uint8Array, what: string): { key: string; value: Field | undefined } {
  let key = '';
  let value: Field | undefined;
  for (const field of readFields(bytes, what)) {
    if (field.number === 1 && field.bytes) key = utf8.decode(field.bytes);
    else if (field.number === 2) value = field;
  }
  return { key, value };
}

function decodeTensor(bytes: Uint8Array, what: string): ProtoTensor {
  let dense: Uint8Array | undefined;
  let dtype: ProtoDType = 'DTYPE_UNSPECIFIED';
  let shape: number[] | undefined;
  for (const field of readFields(bytes, what)) {
    if (field.number === 1) dense = field.bytes;
    else if (field.number === 2)
      fail(
        `${what} is sparse_csr; this server reads dense tensors only (send 1-D target_tokens/weights, as the SDK does for 1-D arrays).`,
      );
    else if (field.number === 3) dtype = dtypeOf(field.varint);
    else if (field.number === 4) shape = [...(shape ?? []), ...packedInt64(field)];
  }
  const tensor: ProtoTensor = { dense: decodeArray(dense ?? new Uint8Array(), dtype, what), dtype };
  if (shape) tensor.shape = shape;
  return tensor;
}

/** Reads `tinker_public.ForwardBackwardRequest` bytes; map entries in any order, defaults left out. */
export function decodeForwardBackwardRequest(bytes: Uint8Array): ProtoForwardBackwardRequest {
  const request: ProtoForwardBackwardRequest = {
    model_id: '',
    seq_id: 0,
    data: [],
    loss_fn: '',
    loss_fn_config: {},
    forward_only: false,
  };
  for (const field of readFields(bytes, 'ForwardBackwardRequest')) {
    switch (field.number) {
      case 1:
        request.model_id = utf8.decode(field.bytes);
        break;
      case 2:
        request.seq_id = Number(BigInt.asIntN(32, field.varint ?? 0n));
        break;
      case 3:
        request.data.push(decodeDatum(field.bytes ?? new Uint8Array(), `data[${request.data.length}]`));
        break;
      case 4:
        request.loss_fn = utf8.decode(field.bytes);
        break;
      case 5: {
        const { key, value } = mapEntry(field.bytes ?? new Uint8Array(), 'loss_fn_config');
        request.loss_fn_config[key] = value?.bytes ? view(value.bytes).getFloat64(0, true) : 0;
        break;
      }
      case 6:
        request.forward_only = (field.varint ?? 0n) !== 0n;
        break;
    }
  }
  return request;
}

function decodeDatum(bytes: Uint8Array, what: string): ProtoDatum {
  const datum: ProtoDatum = { model_input: [], loss_fn_inputs: {} };
  for (const field of readFields(bytes, what)) {
    if (field.number === 1) {
      for (const chunk of readFields(field.bytes ?? new Uint8Array(), `${what}.model_input`)) {
        if (chunk.number !== 1)
          fail(
            `${what}.model_input has a ${chunk.number === 2 ? 'image' : 'dmel'} chunk; this server takes encoded_text chunks only.`,
          );
        let tokens: number[] = [];
        for (const inner of readFields(chunk.bytes ?? new Uint8Array(), `${what}.encoded_text`)) {
          if (inner.number === 1)
            tokens = decodeArray(inner.bytes ?? new Uint8Array(), 'DTYPE_INT32', `${what}.tokens`);
        }
        datum.model_input.push({ encoded_text: { tokens } });
      }
    } else if (field.number === 2) {
      const { key, value } = mapEntry(field.bytes ?? new Uint8Array(), `${what}.loss_fn_inputs`);
      datum.loss_fn_inputs[key] = decodeTensor(
        value?.bytes ?? new Uint8Array(),
        `${what}.loss_fn_inputs.${key}`,
      );
    }
  }
  return datum;
}

/** Reads `tinker_public.ForwardBackwardOutput` bytes. */
export function decodeForwardBackwardOutput(bytes: Uint8Array): ProtoForwardBackwardOutput {
  const output: ProtoForwardBackwardOutput = { loss_fn_output_type: '', loss_fn_outputs: [], metrics: {} };
  for (const field of readFields(bytes, 'ForwardBackwardOutput')) {
    if (field.number === 1) output.loss_fn_output_type = utf8.decode(field.bytes);
    else if (field.number === 2) {
      const record: ProtoArrayRecord = { type_tag: '', num_datums: 0, fields: {} };
      for (const inner of readFields(field.bytes ?? new Uint8Array(), 'ArrayRecord')) {
        if (inner.number === 1) record.type_tag = utf8.decode(inner.bytes);
        else if (inner.number === 3) record.num_datums = Number(inner.varint ?? 0n);
        else if (inner.number === 2) {
          const { key, value } = mapEntry(inner.bytes ?? new Uint8Array(), 'ArrayRecord.fields');
          const tensor: ProtoBatchedTensor = {
            data: [],
            offsets: [],
            dtype: 'DTYPE_UNSPECIFIED',
            trailing_shape: [],
          };
          let data: Uint8Array = new Uint8Array();
          for (const part of readFields(value?.bytes ?? new Uint8Array(), `fields.${key}`)) {
            if (part.number === 1) data = part.bytes ?? data;
            else if (part.number === 2)
              tensor.offsets = decodeArray(
                part.bytes ?? new Uint8Array(),
                'DTYPE_INT64',
                `fields.${key}.offsets`,
              );
            else if (part.number === 3) tensor.dtype = dtypeOf(part.varint);
            else if (part.number === 4) tensor.trailing_shape.push(...packedInt64(part));
          }
          tensor.data = decodeArray(data, tensor.dtype, `fields.${key}`);
          record.fields[key] = tensor;
        }
      }
      output.loss_fn_outputs.push(record);
    } else if (field.number === 3) {
      const { key, value } = mapEntry(field.bytes ?? new Uint8Array(), 'metrics');
      output.metrics[key] = value?.bytes ? view(value.bytes).getFloat64(0, true) : 0;
    }
  }
  return output;
}

/** Reads `tinker_public.SampleResponse` bytes. */
export function decodeSampleResponse(bytes: Uint8Array): ProtoSampleResponse {
  const response: ProtoSampleResponse = {
    sequences: [],
    prompt_logprobs: null,
    topk_prompt_logprobs: null,
    prompt_cache_hit_tokens: 0,
  };
  for (const field of readFields(bytes, 'SampleResponse')) {
    if (field.number === 1) {
      const sequence: ProtoSampledSequence = { stop_reason: 'STOP_REASON_STOP', tokens: [], logprobs: null };
      for (const inner of readFields(field.bytes ?? new Uint8Array(), 'SampledSequence')) {
        if (inner.number === 1)
          sequence.stop_reason = inner.varint === 1n ? 'STOP_REASON_LENGTH' : 'STOP_REASON_STOP';
        else if (inner.number === 2)
          sequence.tokens = decodeArray(inner.bytes ?? new Uint8Array(), 'DTYPE_INT32', 'tokens');
        else if (inner.number === 3) {
          // The SDK reads empty bytes as "no logprobs".
          const values = decodeArray(inner.bytes ?? new Uint8Array(), 'DTYPE_FLOAT32', 'logprobs');
          sequence.logprobs = values.length > 0 ? values : null;
        }
      }
      response.sequences.push(sequence);
    } else if (field.number === 2) {
      response.prompt_logprobs = decodeArray(
        field.bytes ?? new Uint8Array(),
        'DTYPE_FLOAT32',
        'prompt_logprobs',
      );
    } else if (field.number === 4) {
      response.prompt_cache_hit_tokens = Number(field.varint ?? 0n);
    }
  }
  return response;
}
