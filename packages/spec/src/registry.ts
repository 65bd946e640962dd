/**
 * One registry of backends and judges, resolved from spec strings: `openai:http://127.0.0.1:8000/v1`,
 * `onnx:models/tiny`, `transformers:models/tiny`, `lexical`, `generative:openai:http://…`. The CLI and
 * `@rlpt/recipes` resolve every spec through it, so a third-party package adds a backend or judge by
 * registering a provider — no edit of rlpt needed:
 *
 * ```ts
 * import { registerBackendProvider } from '@rlpt/spec';
 * registerBackendProvider({
 *   scheme: 'llamacpp',
 *   description: "llama.cpp server's native /completion API",
 *   example: 'llamacpp:http://127.0.0.1:8080',
 *   create: async (target, options) => createLlamaCppBackend({ baseURL: target, logger: options.logger }),
 * });
 * ```
 *
 * `rlpt` imports the modules named in `RLPT_PLUGINS` (comma-separated) or `--plugin` before it runs, so
 * such a module's registrations are there for every command. The registry is kept on `globalThis`, so two
 * installed copies of `@rlpt/spec` share it.
 */
import type { InferenceBackendV1 } from './backend.js';
import { InvalidArgumentError } from './errors.js';
import type { EventHandler, Logger } from './events.js';
import type { JudgeV1 } from './judge.js';

/** What every provider receives besides its target. */
export interface ProviderOptions {
  logger?: Logger;
  onEvent?: EventHandler;
  /** Provider-specific settings (e.g. `model`, `apiKeyEnv`, `server`, `threads` for backends). */
  [setting: string]: unknown;
}

/** Creates backends for one spec scheme: `<scheme>:<target>`. */
export interface BackendProvider {
  /** The spec prefix, e.g. `openai` for `openai:http://…`: lowercase letters, digits, `-`, `_`, `.`. */
  scheme: string;
  /** One line for listings and errors. */
  description: string;
  /** A complete example spec. */
  example: string;
  /** Creates the backend for `target` (the spec after `<scheme>:`). */
  create(target: string, options: ProviderOptions): Promise<InferenceBackendV1>;
}

/** A judge that can be closed (releasing its backend). */
export type ClosableJudge = JudgeV1 & { close?(): Promise<void> };

/** Creates judges of one kind: `<name>` or `<name>:<target>`. */
export interface JudgeProvider {
  /** The spec prefix, e.g. `lexical`, `generative`. */
  name: string;
  description: string;
  example: string;
  /** Whether the spec needs a target after `<name>:` (generative: a backend spec). */
  needsTarget: boolean;
  create(target: string | undefined, options: ProviderOptions): Promise<ClosableJudge>;
}

interface Registry {
  backends: Map<string, BackendProvider>;
  judges: Map<string, JudgeProvider>;
}

const registryKey = Symbol.for('rlpt.registry.v1');

function registry(): Registry {
  const holder = globalThis as unknown as Record<symbol, Registry | undefined>;
  let found = holder[registryKey];
  if (!found) {
    found = { backends: new Map(), judges: new Map() };
    holder[registryKey] = found;
  }
  return found;
}

const schemePattern = /^[a-z][a-z0-9._-]*$/;

function checkName(kind: string, name: unknown): string {
  if (typeof name !== 'string' || !schemePattern.test(name)) {
    throw new InvalidArgumentError({
      argument: kind,
      message: `A ${kind} must be lowercase letters, digits, '.', '_' or '-', starting with a letter; got ${JSON.stringify(name)}.`,
    });
  }
  return name;
}

/**
 * Adds a backend provider. Registering a scheme that exists is an error unless `replace` is set (so two
 * plugins cannot silently shadow each other).
 */
export function registerBackendProvider(
  provider: BackendProvider,
  options: { replace?: boolean } = {},
): void {
  const scheme = checkName('scheme', provider?.scheme);
  if (typeof provider.create !== 'function') {
    throw new InvalidArgumentError({
      argument: 'create',
      message: `Backend provider ${scheme} has no create().`,
    });
  }
  const { backends } = registry();
  if (backends.has(scheme) && !options.replace) {
    throw new InvalidArgumentError({
      argument: 'scheme',
      message: `A backend provider for '${scheme}:' is already registered (${backends.get(scheme)?.description}). Pass { replace: true } to replace it.`,
    });
  }
  backends.set(scheme, provider);
}

/** Adds a judge provider (see {@link registerBackendProvider} for `replace`). */
export function registerJudgeProvider(provider: JudgeProvider, options: { replace?: boolean } = {}): void {
  const name = checkName('judge name', provider?.name);
  if (typeof provider.create !== 'function') {
    throw new InvalidArgumentError({
      argument: 'create',
      message: `Judge provider ${name} has no create().`,
    });
  }
  const { judges } = registry();
  if (judges.has(name) && !options.replace) {
    throw new InvalidArgumentError({
      argument: 'name',
      message: `A judge provider '${name}' is already registered (${judges.get(name)?.description}). Pass { replace: true } to replace it.`,
    });
  }
  judges.set(name, provider);
}

/** The registered backend providers, by scheme. */
export function backendProviders(): BackendProvider[] {
  return [...registry().backends.values()].sort((a, b) => a.scheme.localeCompare(b.scheme));
}

/** The registered judge providers, by name. */
export function judgeProviders(): JudgeProvider[] {
  return [...registry().judges.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Splits `scheme:target` (the target may contain further colons); `lexical` has no target. */
export function parseSpec(spec: string): { scheme: string; target: string | undefined } {
  if (typeof spec !== 'string' || spec.length === 0) {
    throw new InvalidArgumentError({
      argument: 'spec',
      message: `A spec must be a non-empty string; got ${JSON.stringify(spec)}.`,
    });
  }
  const colon = spec.indexOf(':');
  return colon < 0
    ? { scheme: spec, target: undefined }
    : { scheme: spec.slice(0, colon), target: spec.slice(colon + 1) };
}

/** The backend provider for a spec, or an error listing the known schemes. */
export function backendProviderFor(spec: string): { provider: BackendProvider; target: string } {
  const { scheme, target } = parseSpec(spec);
  const provider = registry().backends.get(scheme);
  if (!provider || target === undefined || target.length === 0) {
    const known = backendProviders().map((entry) => `${entry.example} (${entry.description})`);
    throw new InvalidArgumentError({
      argument: 'spec',
      message: provider
        ? `Backend spec ${JSON.stringify(spec)} has nothing after '${scheme}:'; e.g. ${provider.example}.`
        : `No backend provider for ${JSON.stringify(spec)}. Known: ${known.join('; ') || 'none registered'}. A plugin package can add one (RLPT_PLUGINS=<module> or --plugin <module>).`,
    });
  }
  return { provider, target };
}

/** Creates the backend a spec names, through its registered provider. */
export async function createBackendFromSpec(
  spec: string,
  options: ProviderOptions = {},
): Promise<InferenceBackendV1> {
  const { provider, target } = backendProviderFor(spec);
  return provider.create(target, options);
}

/**
 * The judge provider for a spec. A backend spec alone (`openai:http://…`, `onnx:DIR`) means a generative
 * judge over that backend: `generative:<backend spec>`.
 */
export function judgeProviderFor(spec: string): { provider: JudgeProvider; target: string | undefined } {
  const { scheme, target } = parseSpec(spec);
  const { judges, backends } = registry();
  const provider = judges.get(scheme);
  if (provider) {
    if (provider.needsTarget && !target) {
      throw new InvalidArgumentError({
        argument: 'spec',
        message: `Judge spec ${JSON.stringify(spec)} needs a target; e.g. ${provider.example}.`,
      });
    }
    if (!provider.needsTarget && target !== undefined) {
      throw new InvalidArgumentError({
        argument: 'spec',
        message: `Judge '${scheme}' takes nothing after its name; got ${JSON.stringify(spec)} (e.g. ${provider.example}).`,
      });
    }
    return { provider, target };
  }
  const generative = judges.get('generative');
  if (generative && backends.has(scheme) && target) return { provider: generative, target: spec };
  const known = [
    ...judgeProviders().map((entry) => `${entry.example} (${entry.description})`),
    ...backendProviders().map((entry) => `${entry.example} (a generative judge on this backend)`),
  ];
  throw new InvalidArgumentError({
    argument: 'spec',
    message: `No judge provider for ${JSON.stringify(spec)}. Known: ${known.join('; ') || 'none registered'}. A plugin package can add one (RLPT_PLUGINS=<module> or --plugin <module>).`,
  });
}

/** Creates the judge a spec names, through its registered provider. */
export async function createJudgeFromSpec(
  spec: string,
  options: ProviderOptions = {},
): Promise<ClosableJudge> {
  const { provider, target } = judgeProviderFor(spec);
  return provider.create(target, options);
}
