#!/usr/bin/env node
// The `moekit` command: dispatch to one file per command. Errors print one line (plus a hint) and exit
// non-zero; --debug (or MOEKIT_DEBUG=1) shows the stack.
import { MoekitError } from '../tensor/index.js';
import type { Command } from './command.js';
import { doctor } from './doctor.js';
import { trainCommand } from './train.js';
import { demo } from './demo.js';
import { compare } from './compare.js';
import { route } from './route.js';
import { evalCommand } from './eval.js';
import { inspectCommand } from './inspect.js';
import { convert } from './convert.js';
import { generateCommand } from './generate.js';
import { packageVersion } from './version.js';

const COMMANDS: Command[] = [demo, compare, trainCommand, evalCommand, inspectCommand, generateCommand, route, convert, doctor];

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `moekit ${packageVersion()} — train, evaluate and inspect Mixture-of-Experts language models on a CPU`,
    '',
    'usage: moekit <command> [options]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `moekit <command> --help` for a command\'s options. --debug shows stack traces.',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const debug = argv.includes('--debug') || process.env.MOEKIT_DEBUG === '1';
  const args = argv.filter((a) => a !== '--debug');
  const name = args[0];
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help() + '\n');
    return 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(packageVersion() + '\n');
    return 0;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    process.stderr.write(`moekit: unknown command "${name}"; commands: ${COMMANDS.map((c) => c.name).join(', ')}\n`);
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(cmd.usage + '\n');
    return 0;
  }
  try {
    await cmd.run(args.slice(1));
    return 0;
  } catch (e) {
    const err = e as Error;
    if (debug) process.stderr.write((err.stack ?? String(err)) + '\n');
    else {
      const hint = err instanceof MoekitError && err.hint ? ` (${err.hint})` : '';
      const known = err instanceof MoekitError || (err as NodeJS.ErrnoException).code !== undefined;
      process.stderr.write(`moekit ${cmd.name}: error: ${err.message}${hint}\n`);
      if (!known) process.stderr.write('(an internal error: rerun with --debug for the stack trace and please report it)\n');
    }
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
