// Builds the native kernels at `npm install`. A failed build is not fatal: moekit then runs on the
// reference backend and says so once at start-up. MOEKIT_SKIP_NATIVE=1 skips the build.
import { spawnSync } from 'node:child_process';

if (process.env.MOEKIT_SKIP_NATIVE === '1') {
  console.log('moekit: MOEKIT_SKIP_NATIVE=1, native kernels not built (reference backend only).');
  process.exit(0);
}
const jobs = String(process.env.JOBS ?? 'max');
const r = spawnSync('node-gyp', ['rebuild', `--jobs=${jobs}`], { stdio: 'inherit', shell: true });
if (r.status !== 0) {
  console.warn('moekit: the native kernels could not be built; moekit will run on the (slow) reference backend.');
  console.warn('moekit: check that g++, make and python3 are installed, then run `npm run build`.');
}
process.exit(0);
