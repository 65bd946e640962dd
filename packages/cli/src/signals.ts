// How long-running commands react to SIGINT/SIGTERM: the first signal stops gracefully, a second one
// exits at once with code 130.

/**
 * Resolves once a server has shut down: the first SIGINT/SIGTERM runs `shutdown` (stop accepting, finish
 * what is in flight, say so on stderr); a second one exits at once.
 */
export function untilShutdown(
  command: string,
  shutdown: (signal: NodeJS.Signals) => Promise<void>,
): Promise<void> {
  return new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        process.stderr.write(`${command}: ${signal} again, exiting now\n`);
        process.exit(130);
      }
      stopping = true;
      shutdown(signal).then(() => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        resolve();
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/**
 * For commands that checkpoint and stop: the first SIGINT/SIGTERM prints `message` and aborts `signal`
 * (with `reason`); a second one exits at once. `dispose` removes the handlers.
 */
export function abortOnInterrupt(
  message: string,
  reason?: unknown,
): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    process.stderr.write(message);
    controller.abort(reason);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
