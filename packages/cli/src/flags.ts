// Flag validation shared by the subcommands: commander hands flags over as strings, zod checks them, and
// every problem comes back as one ConfigError naming the flag as typed.
import { ConfigError } from '@rlpt/spec';
import * as z from 'zod';

/** A whole-number flag of at least `min`. */
export const integer = (min: number) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(min, { error: `must be at least ${min}` });

/** The flag as typed for a settings key: `judgeModel` → `--judge-model`. */
export const flagName = (key: string) => `--${key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;

/** Turns zod issues into a `ConfigError` naming each flag as typed (`--judge-model`). */
export function flagError(source: string, issues: z.core.$ZodIssue[]): ConfigError {
  return new ConfigError({
    source,
    issues: issues.map((issue) => ({ path: flagName(String(issue.path[0] ?? '')), message: issue.message })),
  });
}
