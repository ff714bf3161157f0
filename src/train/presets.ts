// Named run configurations. `tiny` trains in seconds (tests, smoke checks); `small` is the demo's
// model; `bench` is the reference dense model of shared/bench/README.md (vocab 8192, d 256, 4 layers,
// 4 heads × 64, SwiGLU 688, 8 × 256 tokens per step, AdamW lr 3e-4, wd 0.1).
import { ConfigError, nearest } from '../tensor/index.js';
import { parseRunConfig, type RunConfig } from './config.js';

const RAW: Record<string, unknown> = {
  tiny: {
    model: {
      vocab_size: 512, hidden_size: 64, intermediate_size: 172, num_hidden_layers: 2,
      num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 128,
    },
    train: {
      steps: 120, batch_size: 8, seq_len: 64, lr: 3e-3, warmup_steps: 10, eval_interval: 40,
      eval_batches: 4, log_interval: 10, checkpoint_interval: 60,
    },
  },
  small: {
    model: {
      vocab_size: 4096, hidden_size: 128, intermediate_size: 344, num_hidden_layers: 4,
      num_attention_heads: 4, num_key_value_heads: 4, max_position_embeddings: 256,
    },
    train: {
      steps: 600, batch_size: 16, seq_len: 128, lr: 2e-3, warmup_steps: 50, eval_interval: 100,
      eval_batches: 8, log_interval: 10, checkpoint_interval: 200,
    },
  },
  bench: {
    model: {
      vocab_size: 8192, hidden_size: 256, intermediate_size: 688, num_hidden_layers: 4,
      num_attention_heads: 4, num_key_value_heads: 4, max_position_embeddings: 256,
    },
    train: {
      steps: 1000, batch_size: 8, seq_len: 256, lr: 3e-4, warmup_steps: 100, weight_decay: 0.1,
      eval_interval: 100, eval_batches: 8, log_interval: 10, checkpoint_interval: 200,
    },
  },
};

export function presetNames(): string[] {
  return Object.keys(RAW);
}

/** The preset as a raw JSON object (to be merged with overrides, then validated). */
export function rawPreset(name: string): Record<string, unknown> {
  const p = RAW[name];
  if (!p) {
    const near = nearest(name, presetNames());
    throw new ConfigError(`unknown preset "${name}"${near ? ` (did you mean "${near}"?)` : ''}`, `presets: ${presetNames().join(', ')}`);
  }
  return structuredClone(p) as Record<string, unknown>;
}

export function preset(name: string): RunConfig {
  return parseRunConfig(rawPreset(name), `preset ${name}`);
}
