import { UnsupportedFunctionalityError } from '@rlpt/spec';

export function notImplemented(command: string): never {
  throw new UnsupportedFunctionalityError({
    functionality: command,
    message: `'rlpt ${command}' is not implemented yet in this build.`,
  });
}
