// Thin binding to the C++ kernels (native/). Three builds exist (scalar, avx2, avx512); the scalar one
// reports the CPU's features and the best build this CPU can run is loaded. Kernels read and write the
// typed arrays in place: nothing is copied across the boundary.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KERNEL_NAMES, type Backend } from '../backend.js';

interface Addon extends Record<string, unknown> {
  cpuFeatures(): Record<string, boolean>;
  isa(): string;
  threads(): number;
  setThreads(n: number): void;
  hardwareThreads(): number;
  hugeBuffer(bytes: number): ArrayBuffer;
}

const require = createRequire(import.meta.url);

/** The package root: dist/src/backend/native → four levels up. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'binding.gyp'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the moekit package root (binding.gyp)');
}

function loadAddon(name: string): Addon {
  const path = join(packageRoot(), 'build', 'Release', `${name}.node`);
  if (!existsSync(path)) throw new Error(`native build not found: ${path} (run \`npm run build\`)`);
  return require(path) as Addon;
}

/** Which build to load: MOEKIT_ISA forces one (for tests of every build on one machine). */
function chooseIsa(features: Record<string, boolean>): string {
  const forced = process.env.MOEKIT_ISA;
  const can512 = features.avx512f && features.avx512bw && features.avx512vl && features.avx512dq &&
    features.avx2 && features.fma && features.f16c;
  const can2 = features.avx2 && features.fma && features.f16c;
  if (forced) {
    if (!['scalar', 'avx2', 'avx512'].includes(forced)) {
      throw new Error(`MOEKIT_ISA must be scalar, avx2 or avx512 (got "${forced}")`);
    }
    if ((forced === 'avx512' && !can512) || (forced === 'avx2' && !can2)) {
      throw new Error(`MOEKIT_ISA=${forced}: this CPU does not support it`);
    }
    return forced;
  }
  return can512 ? 'avx512' : can2 ? 'avx2' : 'scalar';
}

export function loadNativeBackend(): Backend {
  const probe = loadAddon('moekit_scalar');
  const isa = chooseIsa(probe.cpuFeatures());
  const addon = isa === 'scalar' ? probe : loadAddon(`moekit_${isa}`);
  const missing = KERNEL_NAMES.filter((k) => typeof addon[k] !== 'function');
  if (missing.length > 0) throw new Error(`native build lacks kernels: ${missing.join(', ')}`);
  const kernels = Object.fromEntries(KERNEL_NAMES.map((k) => [k, addon[k]]));
  return {
    ...(kernels as unknown as Backend),
    name: 'native',
    isa: addon.isa(),
    threads: () => addon.threads(),
    setThreads: (n: number) => addon.setThreads(n),
    hugeBuffer: (bytes: number) => addon.hugeBuffer(bytes),
  };
}
