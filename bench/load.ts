// Checkpoint loading cost: does loading a model directory cost about one read of the file?
// Writes a synthetic MoE checkpoint (HF mixtral layout, F32 and BF16, ~300 MB / ~150 MB), then in fresh
// processes measures (1) a plain read of the file into memory and (2) moekit's loadModel as the inference
// commands call it (--weights auto: a BF16 file stays bf16), and for BF16 (3) loadModel into f32 (what
// training and export use), each with its wall time and peak RSS (minus the RSS of a node process that
// only imported moekit). Min/median over --reps runs. JSON lines on stdout.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../src/io/load.js';
import { fromFloat32, writeSafetensors, type SafetensorsTensor } from '../src/io/safetensors/index.js';
import { DecoderLM, parseModelConfig } from '../src/models/index.js';
import { mixtral } from '../src/io/hf/mixtral.js';
import { NameMapper } from '../src/io/hf/names.js';
import { HfConfigReader } from '../src/io/hf/index.js';

const SELF = fileURLToPath(import.meta.url);
const emit = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

const CONFIG = {
  model_type: 'mixtral', vocab_size: 32000, hidden_size: 512, intermediate_size: 1408, num_hidden_layers: 4,
  num_attention_heads: 8, num_key_value_heads: 4, num_local_experts: 8, num_experts_per_tok: 2,
  max_position_embeddings: 2048, rms_norm_eps: 1e-5, rope_theta: 1e6,
};

/** A synthetic checkpoint in HF mixtral layout (random weights are not needed to time I/O: a ramp). */
function writeCheckpoint(dir: string, dtype: 'F32' | 'BF16'): void {
  const moekit = parseModelConfig(mixtral.config(new HfConfigReader(CONFIG, 'bench config')));
  const model = new DecoderLM(moekit, { seed: 0, initialize: false });
  const names = new NameMapper(mixtral.names);
  const tensors: SafetensorsTensor[] = [];
  for (const [name, p] of model.params) {
    for (let i = 0; i < p.size; i++) p.data[i] = ((i % 97) - 48) / 480;
    tensors.push(fromFloat32(names.toHf(name), p.shape, p.data, dtype));
  }
  writeFileSync(join(dir, 'config.json'), JSON.stringify(CONFIG));
  writeSafetensors(join(dir, 'model.safetensors'), tensors);
}

interface Sample { wall_s: number; rss_mb: number }

// Every measurement runs in a fresh child of this small parent: Linux keeps ru_maxrss across fork and
// exec, so a parent holding the synthetic model would inflate every child's peak.
function child(mode: 'idle' | 'read' | 'load-auto' | 'load-f32' | 'write-F32' | 'write-BF16', dir: string): Sample {
  const r = spawnSync(process.execPath, [SELF, '--child', mode, dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`child ${mode} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Sample;
}

function runChild(mode: string, dir: string): void {
  const t0 = performance.now();
  if (mode === 'read') {
    readFileSync(join(dir, 'model.safetensors'));
  } else if (mode === 'load-auto' || mode === 'load-f32') {
    loadModel(dir, { weights: mode === 'load-auto' ? 'auto' : 'f32' });
  } else if (mode.startsWith('write-')) {
    writeCheckpoint(dir, mode.slice(6) as 'F32' | 'BF16');
  }
  const wall = (performance.now() - t0) / 1000;
  process.stdout.write(JSON.stringify({ wall_s: wall, rss_mb: process.resourceUsage().maxRSS / 1024 }));
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: Number(s[0].toFixed(3)), median: Number(s[Math.floor(s.length / 2)].toFixed(3)) };
};

export function runLoadBench(reps: number): void {
  for (const dtype of ['F32', 'BF16'] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'moekit-loadbench-'));
    try {
      child(`write-${dtype}`, dir);
      const file = join(dir, 'model.safetensors');
      const mb = statSync(file).size / 2 ** 20;
      const idle = child('idle', dir).rss_mb;
      const read: Sample[] = [];
      const loads = { auto: [] as Sample[], f32: [] as Sample[] };
      for (let i = 0; i < reps; i++) {
        read.push(child('read', dir));
        loads.auto.push(child('load-auto', dir));
        if (dtype === 'BF16') loads.f32.push(child('load-f32', dir));
      }
      const r = stats(read.map((x) => x.wall_s));
      for (const [weights, samples] of Object.entries(loads)) {
        if (samples.length === 0) continue;
        const l = stats(samples.map((x) => x.wall_s));
        emit({
          bench: 'load', dtype, weights, file_mb: Number(mb.toFixed(1)), reps,
          read_s: r, load_s: l, load_over_read_median: Number((l.median / r.median).toFixed(2)),
          peak_rss_over_file: Number(((stats(samples.map((x) => x.rss_mb)).median - idle) / mb).toFixed(2)),
        });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

if (process.argv[2] === '--child') runChild(process.argv[3], process.argv[4]);
else if (process.argv[1] === SELF) runLoadBench(Number(process.argv[2] ?? 3));
