// Staged knowledge distillation (spec §5 Switch distillation, §12 DeepSpeed-MoE Mixture-of-Students):
// until `stop_step` the student minimises L = (1 − w)·CE(labels) + w·CE(teacher probs ‖ student), then
// CE only (continuing KD hurt, §12). Both terms are one soft-target cross-entropy against the mixed
// target r_t = (1 − w)·onehot(y_t) + w·softmax(teacher logits_t). The teacher runs under noGrad.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { softCrossEntropy } from '../ops/index.js';
import { MoekitError, noGrad } from '../tensor/index.js';
import { softmaxRows } from '../moe/index.js';
import { DecoderLM, parseModelConfig, type ForwardOptions, type LossResult } from '../models/index.js';
import type { LayerReport } from '../nn/index.js';
import { readSafetensors, toFloat32 } from '../io/safetensors/index.js';

export interface DistillConfig {
  /** A trained run directory (config.json + model.safetensors) with the student's vocabulary. */
  teacher: string;
  /** w in (0, 1]: the teacher term's share of the loss. */
  weight: number;
  /** Distillation stops before this optimizer step (0-based): steps >= stop_step use CE only. */
  stop_step: number;
}

export class DistillError extends MoekitError {}

/** A model from a run directory (HF layout written by the trainer). */
export function loadRunModel(dir: string): DecoderLM {
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) throw new DistillError(`${configPath} does not exist`, 'point distill.teacher at a finished run directory');
  const model = new DecoderLM(parseModelConfig(JSON.parse(readFileSync(configPath, 'utf8')), configPath), { seed: 0 });
  const weights = readSafetensors(join(dir, 'model.safetensors')).tensors;
  for (const [name, p] of model.params) {
    const t = weights.get(name);
    if (!t) throw new DistillError(`${join(dir, 'model.safetensors')} has no tensor "${name}"`);
    p.data.set(toFloat32(t));
  }
  return model;
}

export class Distiller {
  readonly teacher: DecoderLM;

  constructor(readonly config: DistillConfig, studentVocab: number) {
    this.teacher = loadRunModel(config.teacher);
    if (this.teacher.config.vocab_size !== studentVocab) {
      throw new DistillError(`distill.teacher has vocab_size ${this.teacher.config.vocab_size}, the student ${studentVocab}`,
        'teacher and student must share the tokenizer');
    }
  }

  active(step: number): boolean {
    return step < this.config.stop_step;
  }

  /** The mixed target distribution r [B·T, V] and the number of positions that count. */
  targets(inputs: Int32Array, labels: Int32Array, batch: number, seq: number): { r: Float32Array; count: number } {
    const V = this.teacher.config.vocab_size;
    const w = this.config.weight;
    const r = noGrad(() => softmaxRows(this.teacher.forward(inputs, batch, seq).data, batch * seq, V)); // copied out
    let count = 0;
    for (let t = 0; t < labels.length; t++) {
      const row = r.subarray(t * V, (t + 1) * V);
      if (labels[t] < 0) {
        row.fill(0);
        continue;
      }
      for (let v = 0; v < V; v++) row[v] *= w;
      row[labels[t]] += 1 - w;
      count++;
    }
    return { r, count };
  }

  /** The student's distillation loss on one micro-batch (aux losses as in DecoderLM.loss). */
  loss(student: DecoderLM, inputs: Int32Array, labels: Int32Array, batch: number, seq: number, run: ForwardOptions): Pick<LossResult, 'loss' | 'auxTotal'> {
    const { r, count } = this.targets(inputs, labels, batch, seq);
    const reports: LayerReport[] = [];
    const loss = softCrossEntropy(student.forward(inputs, batch, seq, run, reports), r, count);
    return { loss, auxTotal: reports.reduce((s, x) => s + x.auxTotal, 0) };
  }
}
