export { createProgram, main } from './main.js';
export { createProgressBar, formatDuration, formatTable, printError } from './ui.js';
export type { ProgressBar } from './ui.js';
