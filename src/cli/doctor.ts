// `moekit doctor`: what this installation runs on.
import { availableParallelism, cpus } from 'node:os';
import { backend, nativeLoadError, tryNativeBackend } from '../backend/index.js';
import type { Command } from './command.js';
import { parseFlags } from './args.js';
import { THREADS_FLAG, applyThreadsFlag } from './threads_flag.js';
import { packageVersion } from './version.js';

export const doctor: Command = {
  name: 'doctor',
  summary: 'print version, backend, instruction set and threads',
  usage: `moekit doctor [--threads N] [--json]

Prints the moekit version, the backend in use (native or reference; MOEKIT_BACKEND forces one),
the instruction set of the native build that was loaded (avx512, avx2 or scalar), and threads.`,
  async run(argv) {
    const { values } = parseFlags('doctor', argv, { ...THREADS_FLAG, json: { type: 'boolean' } });
    applyThreadsFlag('doctor', values);
    const be = backend();
    const native = tryNativeBackend();
    const info = {
      version: packageVersion(),
      node: process.version,
      backend: be.name,
      isa: be.isa,
      threads: be.threads(),
      cpu: cpus()[0]?.model ?? 'unknown',
      hardware_threads: availableParallelism(),
      native_available: native !== null,
      native_error: native ? null : nativeLoadError(),
    };
    if (values.json) {
      process.stdout.write(JSON.stringify(info) + '\n');
      return;
    }
    const lines = [
      `moekit ${info.version} (node ${info.node})`,
      `backend:  ${info.backend}${info.backend === 'reference' ? ' (plain TypeScript: correct but slow)' : ''}`,
      `isa:      ${info.isa}`,
      `threads:  ${info.threads} of ${info.hardware_threads} hardware threads`,
      `cpu:      ${info.cpu}`,
    ];
    if (!native) lines.push(`native:   unavailable — ${info.native_error}`);
    process.stdout.write(lines.join('\n') + '\n');
  },
};
