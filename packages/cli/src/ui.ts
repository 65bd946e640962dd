import { type Logger, RlptError } from '@rlpt/spec';

/**
 * Terminal output helpers. Only the CLI prints: progress bars on a TTY, plain log lines otherwise.
 */
export interface ProgressBar {
  update(done: number, total?: number, note?: string): void;
  done(summary?: string): void;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/**
 * A progress bar with rate and ETA on a TTY (redrawn at most 10×/s); on a pipe, one log line every
 * `logEverySeconds`.
 */
export function createProgressBar(
  label: string,
  options: { unit?: string; stream?: NodeJS.WriteStream; logEverySeconds?: number } = {},
): ProgressBar {
  const stream = options.stream ?? process.stderr;
  const unit = options.unit ?? 'items';
  const isTty = Boolean(stream.isTTY);
  const logEvery = (options.logEverySeconds ?? 10) * 1000;
  const started = performance.now();
  let lastDraw = 0;
  let lastLine = '';
  // Rate and ETA are measured from the first update, so work done before the bar existed (a resumed run,
  // a first batch) does not inflate them.
  let baseline: { time: number; done: number } | undefined;
  const render = (done: number, total: number | undefined, note: string | undefined): string => {
    const now = performance.now();
    baseline ??= { time: now, done };
    const elapsed = (now - started) / 1000;
    const rateSeconds = (now - baseline.time) / 1000;
    const rate = rateSeconds > 0 ? (done - baseline.done) / rateSeconds : 0;
    const rateText = `${rate >= 100 ? Math.round(rate) : rate.toFixed(1)} ${unit}/s`;
    if (total !== undefined && total > 0) {
      const fraction = Math.min(1, done / total);
      const width = 24;
      const filled = Math.round(fraction * width);
      const eta = rate > 0 ? (total - done) / rate : Number.NaN;
      const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
      return `${label} ${bar} ${(fraction * 100).toFixed(0).padStart(3)}% ${done}/${total} ${unit} · ${rateText} · ETA ${formatDuration(eta)}${note ? ` · ${note}` : ''}`;
    }
    return `${label} ${done} ${unit} · ${rateText} · ${formatDuration(elapsed)}${note ? ` · ${note}` : ''}`;
  };
  return {
    update(done, total, note) {
      const now = performance.now();
      if (isTty) {
        if (now - lastDraw < 100) return;
        lastDraw = now;
        lastLine = render(done, total, note);
        stream.write(`\r${lastLine.slice(0, (stream.columns ?? 120) - 1)}\u001b[K`);
      } else if (now - lastDraw >= logEvery) {
        lastDraw = now;
        stream.write(`${render(done, total, note)}\n`);
      }
    },
    done(summary) {
      const elapsed = formatDuration((performance.now() - started) / 1000);
      if (isTty && lastLine) stream.write('\r\u001b[K');
      stream.write(`${label} done in ${elapsed}${summary ? ` · ${summary}` : ''}\n`);
    },
  };
}

/** Renders rows as an aligned plain-text table (also valid Markdown). */
export function formatTable(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  const line = (row: string[]) =>
    `| ${row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`;
  return [
    line(header),
    `| ${widths.map((width) => '-'.repeat(width)).join(' | ')} |`,
    ...cells.slice(1).map(line),
  ].join('\n');
}

/** Prints an error for a human: the message (which names what and where), the cause chain, no stack for RlptErrors. */
export function printError(error: unknown, stream: NodeJS.WriteStream = process.stderr): void {
  if (RlptError.isInstance(error)) {
    stream.write(`rlpt: error: ${error.message}\n`);
    let cause: unknown = error.cause;
    for (let depth = 0; cause !== undefined && depth < 5; depth++) {
      stream.write(`  caused by: ${cause instanceof Error ? cause.message : String(cause)}\n`);
      cause = cause instanceof Error ? cause.cause : undefined;
    }
    return;
  }
  stream.write(
    `rlpt: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
}

/**
 * A logger writing `<time> <level> message {fields}` lines to stderr; debug lines (labelled `debugLabel`)
 * only when verbose.
 */
export function stderrLogger(verbose: boolean, debugLabel = 'debug'): Logger {
  const write = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    const extra = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
    process.stderr.write(`${new Date().toISOString()} ${level} ${message}${extra}\n`);
  };
  return {
    debug: verbose ? write(debugLabel) : () => {},
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
  };
}
