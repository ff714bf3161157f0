// Positioned reads shared by the file readers (safetensors, GGUF, the zip of PyTorch .bin checkpoints).
import { readSync } from 'node:fs';

/** Why a read stopped short: the OS refused it, or the file ended before `dst` was full. */
export type ReadFailure = 'os' | 'ended';

/**
 * Read exactly `dst.length` bytes of `path` (open as `fd`) at `position`. readSync moves at most 2 GiB per
 * call and may return fewer bytes, hence the loop; a 0-byte read means the file shrank under us. `fail`
 * wraps the message (which names the file and the byte) in the format's own error type.
 */
export function readFullyAt(fd: number, path: string, dst: Uint8Array, position: number,
  fail: (message: string, why: ReadFailure) => Error): void {
  const CHUNK = 1 << 30;
  for (let off = 0; off < dst.length;) {
    let n: number;
    try {
      n = readSync(fd, dst, off, Math.min(CHUNK, dst.length - off), position + off);
    } catch (e) {
      throw fail(`${path}: cannot read: ${(e as Error).message}`, 'os');
    }
    if (n === 0) throw fail(`${path}: file ended at byte ${position + off} while reading (was it truncated while open?)`, 'ended');
    off += n;
  }
}
