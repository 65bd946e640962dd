#!/usr/bin/env node
import { main } from './main.js';

let settled = false;
// If the event loop empties while a command is still awaiting something (a timer that was unref()ed, a
// promise nothing will resolve), Node would exit with code 0 and the work undone. Never: say so, exit 70.
process.on('exit', (code) => {
  if (settled || code !== 0) return;
  process.stderr.write(
    `rlpt: error: the command stopped before finishing (nothing left to wait on while work was pending; exit code was ${code}). Its results are incomplete. This is a bug in rlpt: please report it with the command line.\n`,
  );
  process.exitCode = 70;
});

main(process.argv.slice(2)).then(
  (code) => {
    settled = true;
    process.exitCode = code;
  },
  (error: unknown) => {
    settled = true;
    console.error(error);
    process.exitCode = 1;
  },
);
