import { open, rename, rm } from 'node:fs/promises';
import { basename } from 'node:path';
import { create, toBinary } from '@bufbuild/protobuf';
import {
  type AttributeProto,
  AttributeProto_AttributeType,
  AttributeProtoSchema,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  StringStringEntryProtoSchema,
  type TensorProto,
  TensorProto_DataLocation,
  TensorProtoSchema,
  TensorShapeProto_DimensionSchema,
  TensorShapeProtoSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  type ValueInfoProto,
  ValueInfoProtoSchema,
} from 'onnx-buf';
import { InvalidArgumentError } from '@rlpt/spec';
import { onnxDataType } from './shapes.js';
import type { Attribute, Graph, TensorData, ValueInfo } from './types.js';

/** Tensors at least this large go to the external data file when external data is on. */
const externalTensorMinBytes = 1024;
/** Offsets in the external data file are page-aligned so ORT can memory-map them. */
const externalAlignment = 4096;

function bytesOf(tensor: TensorData): Uint8Array<ArrayBuffer> {
  const { data } = tensor;
  return new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
}

/** The ONNX IR version that goes with a default-domain opset. */
function irVersionFor(opset: number): bigint {
  if (opset <= 18) return 8n;
  if (opset <= 20) return 9n;
  if (opset <= 22) return 10n;
  return 11n;
}

function tensorProto(
  name: string,
  tensor: TensorData,
  external?: { location: string; offset: number },
): TensorProto {
  const base = {
    name,
    dims: tensor.dims.map((dim) => BigInt(dim)),
    dataType: onnxDataType[tensor.dtype],
  };
  if (external) {
    return create(TensorProtoSchema, {
      ...base,
      dataLocation: TensorProto_DataLocation.EXTERNAL,
      externalData: [
        create(StringStringEntryProtoSchema, { key: 'location', value: external.location }),
        create(StringStringEntryProtoSchema, { key: 'offset', value: String(external.offset) }),
        create(StringStringEntryProtoSchema, { key: 'length', value: String(tensor.data.byteLength) }),
      ],
    });
  }
  return create(TensorProtoSchema, { ...base, rawData: bytesOf(tensor) });
}

function attributeProto(name: string, attribute: Attribute): AttributeProto {
  switch (attribute.type) {
    case 'int':
      return create(AttributeProtoSchema, {
        name,
        type: AttributeProto_AttributeType.INT,
        i: BigInt(attribute.value),
      });
    case 'float':
      return create(AttributeProtoSchema, {
        name,
        type: AttributeProto_AttributeType.FLOAT,
        f: attribute.value,
      });
    case 'string':
      return create(AttributeProtoSchema, {
        name,
        type: AttributeProto_AttributeType.STRING,
        s: new TextEncoder().encode(attribute.value),
      });
    case 'ints':
      return create(AttributeProtoSchema, {
        name,
        type: AttributeProto_AttributeType.INTS,
        ints: attribute.value.map((value) => BigInt(value)),
      });
    case 'floats':
      return create(AttributeProtoSchema, {
        name,
        type: AttributeProto_AttributeType.FLOATS,
        floats: [...attribute.value],
      });
    case 'strings':
      return create(AttributeProtoSchema, {
        name,
        type: AttributeProto_AttributeType.STRINGS,
        strings: attribute.value.map((value) => new TextEncoder().encode(value)),
      });
    case 'tensor':
      return create(AttributeProtoSchema, {
        name,
        type: AttributeProto_AttributeType.TENSOR,
        t: tensorProto('', attribute.value),
      });
  }
}

function valueInfoProto(value: ValueInfo): ValueInfoProto {
  const shape = value.shape
    ? create(TensorShapeProtoSchema, {
        dim: value.shape.map((dim) =>
          create(TensorShapeProto_DimensionSchema, {
            value:
              typeof dim === 'number'
                ? { case: 'dimValue', value: BigInt(dim) }
                : { case: 'dimParam', value: dim },
          }),
        ),
      })
    : undefined;
  return create(ValueInfoProtoSchema, {
    name: value.name,
    type: create(TypeProtoSchema, {
      value: {
        case: 'tensorType',
        value: create(TypeProto_TensorSchema, {
          elemType: onnxDataType[value.dtype],
          ...(shape ? { shape } : {}),
        }),
      },
    }),
  });
}

/** Where each externalised tensor goes in the external data file. */
interface ExternalPlan {
  location: string;
  entries: { name: string; offset: number; tensor: TensorData }[];
  totalBytes: number;
}

function planExternalData(graph: Graph, location: string): ExternalPlan {
  const entries: ExternalPlan['entries'] = [];
  let offset = 0;
  for (const [name, tensor] of graph.initializers) {
    if (tensor.data.byteLength < externalTensorMinBytes) continue;
    offset = Math.ceil(offset / externalAlignment) * externalAlignment;
    entries.push({ name, offset, tensor });
    offset += tensor.data.byteLength;
  }
  return { location, entries, totalBytes: offset };
}

function modelBytes(graph: Graph, plan: ExternalPlan | undefined, producer: string): Uint8Array {
  const externalByName = new Map(plan?.entries.map((entry) => [entry.name, entry.offset]));
  const initializer = [...graph.initializers].map(([name, tensor]) => {
    const offset = externalByName.get(name);
    return tensorProto(
      name,
      tensor,
      plan && offset !== undefined ? { location: plan.location, offset } : undefined,
    );
  });
  const domains = new Set(graph.nodes.map((node) => node.domain).filter((domain) => domain !== ''));
  const model = create(ModelProtoSchema, {
    irVersion: irVersionFor(graph.opset),
    producerName: producer,
    opsetImport: [
      create(OperatorSetIdProtoSchema, { domain: '', version: BigInt(graph.opset) }),
      ...[...domains].map((domain) => create(OperatorSetIdProtoSchema, { domain, version: 1n })),
    ],
    graph: create(GraphProtoSchema, {
      name: graph.name,
      node: graph.nodes.map((node) =>
        create(NodeProtoSchema, {
          name: node.name,
          opType: node.opType,
          domain: node.domain,
          input: [...node.inputs],
          output: [...node.outputs],
          attribute: Object.entries(node.attributes).map(([name, attribute]) =>
            attributeProto(name, attribute),
          ),
        }),
      ),
      initializer,
      input: graph.inputs.map(valueInfoProto),
      output: graph.outputs.map(valueInfoProto),
    }),
  });
  return toBinary(ModelProtoSchema, model);
}

/**
 * Serialises a graph to ONNX `ModelProto` bytes with every initializer inline. Protobuf caps a model at
 * 2 GiB; use {@link writeOnnxModel} with external data beyond that.
 */
export function serializeModel(graph: Graph, options: { producer?: string } = {}): Uint8Array {
  checkInlineSize(graph, 'serializeModel');
  return modelBytes(graph, undefined, options.producer ?? 'rlpt');
}

/** Protobuf messages are capped at 2 GiB; leave room for the graph itself. */
const inlineLimitBytes = 2 ** 31 - 64 * 2 ** 20;

function initializerBytes(graph: Graph): number {
  let total = 0;
  for (const tensor of graph.initializers.values()) total += tensor.data.byteLength;
  return total;
}

function checkInlineSize(graph: Graph, where: string): void {
  const bytes = initializerBytes(graph);
  if (bytes > inlineLimitBytes) {
    throw new InvalidArgumentError({
      argument: 'externalData',
      message: `${where}: graph '${graph.name}' has ${(bytes / 2 ** 30).toFixed(2)} GiB of weights, more than an ONNX file can hold inline (2 GiB protobuf limit); write it with external data (writeOnnxModel(…, { externalData: true }) or 'auto').`,
    });
  }
}

/** Options for {@link writeOnnxModel}. */
export interface WriteOnnxOptions {
  /**
   * Store large initializers in `<file>_data` next to the model (`true`), inline (`false`), or decide by
   * size: external when the initializers exceed `externalDataThresholdBytes` (`'auto'`, the default).
   */
  externalData?: boolean | 'auto';
  /** Size above which `'auto'` switches to external data. Default 1.5 GB. */
  externalDataThresholdBytes?: number;
  producer?: string;
}

/** What {@link writeOnnxModel} wrote. */
export interface WrittenOnnxModel {
  modelPath: string;
  /** Path of the external data file, when one was written. */
  externalDataPath?: string;
  bytes: number;
}

/**
 * Writes `graph` to `path` (and `path + '_data'` with external data). Each file is written to a temp
 * name first and renamed, so a crash never leaves a half-written model behind.
 */
export async function writeOnnxModel(
  graph: Graph,
  path: string,
  options: WriteOnnxOptions = {},
): Promise<WrittenOnnxModel> {
  const threshold = options.externalDataThresholdBytes ?? 1.5e9;
  const external =
    options.externalData === true || (options.externalData !== false && initializerBytes(graph) > threshold);
  if (!external) checkInlineSize(graph, 'writeOnnxModel');
  const dataPath = `${path}_data`;
  const plan = external ? planExternalData(graph, basename(dataPath)) : undefined;
  const producer = options.producer ?? 'rlpt';
  const suffix = `.tmp-${process.pid}-${Date.now()}`;
  let bytes = 0;
  if (plan) {
    const handle = await open(`${dataPath}${suffix}`, 'w');
    try {
      for (const entry of plan.entries) {
        await handle.write(bytesOf(entry.tensor), 0, entry.tensor.data.byteLength, entry.offset);
      }
      await handle.sync();
    } catch (error) {
      await handle.close();
      await rm(`${dataPath}${suffix}`, { force: true });
      throw error;
    }
    await handle.close();
    bytes += plan.totalBytes;
  }
  let proto: Uint8Array;
  try {
    proto = modelBytes(graph, plan, producer);
    const handle = await open(`${path}${suffix}`, 'w');
    try {
      await handle.write(proto);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    await rm(`${path}${suffix}`, { force: true });
    if (plan) await rm(`${dataPath}${suffix}`, { force: true });
    throw error;
  }
  bytes += proto.byteLength;
  if (plan) await rename(`${dataPath}${suffix}`, dataPath);
  await rename(`${path}${suffix}`, path);
  return { modelPath: path, ...(plan ? { externalDataPath: dataPath } : {}), bytes };
}
