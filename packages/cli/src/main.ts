import { RlptError } from '@rlpt/spec';
import { Command, CommanderError } from 'commander';
import { commands } from './commands/index.js';
import { VERSION } from './version.js';
import { printError } from './ui.js';

/** Builds the `rlpt` program. Each subcommand lives in `./commands/<name>.ts`. */
export function createProgram(): Command {
  const program = new Command('rlpt')
    .description(
      'Reinforcement Learning on Pre-Training data: prepare corpora, judge, serve, train, evaluate.',
    )
    .version(VERSION)
    .option(
      '--plugin <module>',
      'load an rlpt plugin (a package name or a module file) that registers backends or judges; repeatable, also RLPT_PLUGINS=a,b',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .showHelpAfterError()
    .exitOverride()
    .hook('preAction', async () => {
      const { loadPlugins, registerBuiltins } = await import('@rlpt/recipes');
      registerBuiltins();
      const fromEnv = (process.env.RLPT_PLUGINS ?? '').split(',');
      await loadPlugins([...fromEnv, ...(program.opts().plugin as string[])]);
    });
  for (const register of commands) register(program);
  return program;
}

/** Runs the CLI and returns the exit code; errors are printed, never thrown. */
export async function main(argv: string[]): Promise<number> {
  const program = createProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.version'
        ? 0
        : error.exitCode || 2;
    }
    printError(error);
    return RlptError.isInstance(error) && error.code === 'config' ? 2 : 1;
  }
}
