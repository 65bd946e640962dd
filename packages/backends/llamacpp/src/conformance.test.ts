import { runBackendConformance } from '@rlpt/conformance';
import { startStandIn } from '../test/stand-in.js';
import { createLlamaCppBackend } from './index.js';

// The published suite against the llama.cpp stand-in (test/stand-in.ts): no ONNX copy of the model, so
// the strong checks are the self-consistency ones (greedy-repeatable, logprobs-self-consistent, seeds, n,
// stops, aborts, token-id prompts). The context length comes from GET /props, as in production.
runBackendConformance(
  'llamacpp (stand-in llama-server)',
  async () => {
    const server = await startStandIn({ contextSize: 256, tokenDelayMs: 1 });
    return {
      backend: createLlamaCppBackend({ baseURL: server.url, model: 'tiny-bytes' }),
      maxContextTokens: server.contextSize,
      teardown: () => server.close(),
    };
  },
  // n_probs are a plain softmax of the logits, whatever the temperature (inference-servers.md §5.1).
  { logprobTemperature: 'raw' },
);
