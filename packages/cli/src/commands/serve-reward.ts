import { ConfigError } from '@rlpt/spec';
import type { Command } from 'commander';
import * as z from 'zod';
import { flagError, integer } from '../flags.js';
import { untilShutdown } from '../signals.js';
import { stderrLogger } from '../ui.js';
import {
  type RawJudgeFlags,
  addJudgeOptions,
  createJudgeFromSettings,
  judgeFlagIssues,
  judgeFlagsSchema,
} from './judge.js';

interface RawServeFlags extends RawJudgeFlags {
  host: string;
  port: string;
  token?: string;
  maxBodyBytes: string;
  requestTimeoutMs: string;
  headersTimeoutMs: string;
  bodyTimeoutMs: string;
  maxConcurrentRequests: string;
  maxJudgeFailureRate: string;
  shutdownTimeoutMs: string;
  verbose?: boolean;
}

const serveSchema = judgeFlagsSchema.extend({
  host: z.string().min(1),
  port: integer(0).max(65_535, { error: 'must be at most 65535' }),
  token: z.string().min(1, { error: 'must not be empty' }).optional(),
  maxBodyBytes: integer(1024),
  requestTimeoutMs: integer(1),
  headersTimeoutMs: integer(1),
  bodyTimeoutMs: integer(1),
  maxConcurrentRequests: integer(1),
  maxJudgeFailureRate: z.coerce
    .number({ error: 'must be a number' })
    .min(0, { error: 'must be in [0, 1]' })
    .max(1, { error: 'must be in [0, 1]' }),
  shutdownTimeoutMs: integer(0),
  verbose: z.boolean().optional(),
});

/** The validated settings of `rlpt serve reward`. */
export type ServeRewardSettings = z.infer<typeof serveSchema>;

/** Validates the flags (the token may come from `RLPT_REWARD_TOKEN`); a `ConfigError` lists every bad flag. */
export function parseServeRewardFlags(
  flags: RawServeFlags,
  env: NodeJS.ProcessEnv = process.env,
): ServeRewardSettings {
  const result = serveSchema.safeParse({ ...flags, token: flags.token ?? env.RLPT_REWARD_TOKEN });
  if (!result.success) throw flagError('rlpt serve reward flags', result.error.issues);
  const issues = judgeFlagIssues(result.data);
  if (issues.length > 0) throw new ConfigError({ source: 'rlpt serve reward flags', issues });
  return result.data;
}

/** Runs the reward server until SIGINT/SIGTERM, then drains requests in flight and exits. */
export async function runServeReward(settings: ServeRewardSettings): Promise<void> {
  const logger = stderrLogger(settings.verbose === true);
  const { createRewardServer } = await import('@rlpt/reward');
  const judge = await createJudgeFromSettings(settings, logger);
  const server = createRewardServer({
    judge,
    mode: settings.mode,
    ...(settings.token ? { token: settings.token } : {}),
    maxBodyBytes: settings.maxBodyBytes,
    requestTimeoutMs: settings.requestTimeoutMs,
    headersTimeoutMs: settings.headersTimeoutMs,
    bodyTimeoutMs: settings.bodyTimeoutMs,
    maxConcurrentRequests: settings.maxConcurrentRequests,
    maxJudgeFailureRate: settings.maxJudgeFailureRate,
    logger,
  });
  let url: string;
  try {
    ({ url } = await server.listen({ host: settings.host, port: settings.port }));
  } catch (error) {
    await judge.close();
    throw error;
  }
  process.stdout.write(
    `rlpt serve reward: judge ${judge.name} (${settings.mode}) at ${url} — POST /get_reward (OpenRLHF), POST /v1/reward, GET /health, GET /metrics${settings.token ? '; bearer token required' : ''}\n`,
  );

  await untilShutdown('rlpt serve reward', async (signal) => {
    process.stderr.write(
      `rlpt serve reward: ${signal}: draining requests in flight (up to ${settings.shutdownTimeoutMs} ms; send it again to exit now)\n`,
    );
    await server.close({ timeoutMs: settings.shutdownTimeoutMs });
    await judge.close();
    const stats = judge.stats();
    process.stderr.write(
      `rlpt serve reward: stopped after ${stats.items} samples (${stats.ok} judged, ${stats.skipped} skipped, ${stats.failed} failed, ${stats.cacheHits} cache hits)\n`,
    );
  });
}

/** `rlpt serve reward` — owned by the @rlpt/reward issue. `serve` is the parent command. */
export function register(serve: Command): void {
  const command = serve
    .command('reward')
    .description(
      'Reward HTTP server over any judge: OpenRLHF remote reward (POST /get_reward), batch endpoint (POST /v1/reward), /health, /metrics.',
    )
    .option('--host <host>', 'interface to listen on (0.0.0.0 to accept remote trainers)', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 picks a free one)', '5000')
    .option('--token <token>', 'require Authorization: Bearer <token> (default: env RLPT_REWARD_TOKEN)')
    .option('--max-body-bytes <n>', 'largest request body', String(16 * 1024 * 1024))
    .option('--request-timeout-ms <ms>', 'time limit for scoring a request (then 504)', '300000')
    .option('--headers-timeout-ms <ms>', 'time a client has to send the request headers', '20000')
    .option('--body-timeout-ms <ms>', 'time a client has to send the whole body (then 408)', '30000')
    .option('--max-concurrent-requests <n>', 'scoring requests at once (more get 429 + Retry-After)', '256')
    .option(
      '--max-judge-failure-rate <x>',
      'warn when more than this share of the samples of the last 5 minutes were judge failures (see /metrics)',
      '0.2',
    )
    .option('--shutdown-timeout-ms <ms>', 'how long SIGINT/SIGTERM waits for requests in flight', '10000')
    .option('--verbose', 'log skipped predictions and retries');
  addJudgeOptions(command).action(async (flags: RawServeFlags) => {
    await runServeReward(parseServeRewardFlags(flags));
  });
}
