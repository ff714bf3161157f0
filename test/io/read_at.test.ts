// The positioned read every file reader shares (src/io/read_at.ts): a file that shrinks after it was
// opened and validated is refused, when a tensor is read, with the format's own error naming the file
// and the byte where it ended — never a short (silently zero-filled) tensor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GgufError, PytorchBinError, SafetensorsError } from '../../src/io/errors.js';
import { encodeF32, openGguf, writeGguf } from '../../src/io/gguf/index.js';
import { fromFloat32, openSafetensors, writeSafetensors } from '../../src/io/safetensors/index.js';
import { openStoredZip } from '../../src/io/zip.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/pytorch/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'moekit-readat-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const values = Float32Array.from({ length: 64 }, (_, i) => i);

test('safetensors: a file truncated while open → SafetensorsError Io at the byte where it ended', () => {
  const path = join(tmp, 'a.safetensors');
  writeSafetensors(path, [fromFloat32('w', [8, 8], values)]);
  const reader = openSafetensors(path);
  try {
    const start = reader.dataStart + reader.tensors.get('w')!.begin;
    truncateSync(path, start + 100); // 100 of the 256 data bytes are left
    assert.throws(() => reader.read('w'), (e: unknown) => e instanceof SafetensorsError && e.code === 'Io'
      && e.message === `${path}: file ended at byte ${start + 100} while reading (was it truncated while open?)`);
  } finally {
    reader.close();
  }
});

test('GGUF: a file truncated while open → GgufError Truncated at the byte where it ended', () => {
  const path = join(tmp, 'a.gguf');
  writeGguf(path, new Map(), [{ name: 'w', type: 'F32', ne: [8, 8], data: () => encodeF32(values, 'F32') }]);
  const reader = openGguf(path);
  try {
    const start = reader.dataStart + reader.info('w').offset;
    truncateSync(path, start + 40);
    assert.throws(() => reader.read('w'), (e: unknown) => e instanceof GgufError && e.code === 'Truncated'
      && e.message === `${path}: file ended at byte ${start + 40} while reading (was it truncated while open?)`);
  } finally {
    reader.close();
  }
});

test('zip (.bin): an archive truncated while open → PytorchBinError Io at the byte where it ended', () => {
  const path = join(tmp, 'a.bin');
  copyFileSync(join(FIXTURES, 'linear_state_dict.bin'), path);
  const zip = openStoredZip(path);
  try {
    const entry = zip.entries.find((e) => e.size > 1)!;
    truncateSync(path, entry.dataOffset + 1);
    assert.throws(() => zip.read(entry), (e: unknown) => e instanceof PytorchBinError && e.code === 'Io'
      && e.message === `${path}: file ended at byte ${entry.dataOffset + 1} while reading (was it truncated while open?)`);
  } finally {
    zip.close();
  }
});
