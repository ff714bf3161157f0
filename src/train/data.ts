// Glue between the data layer and the trainer: documents → split → tokenizer → packed batches, cached
// under <out>/data-cache so a resumed or repeated run does not retrain the tokenizer.
import { join } from 'node:path';
import { ConfigError } from '../tensor/index.js';
import { loadCorpus, prepareData, TrainBatches, ValidBatches, type PrepareStage, type PreparedData } from '../data/index.js';
import type { RunConfig } from './config.js';
import { TemperatureBatches } from './sampling.js';
import type { Batch, TrainData } from './trainer.js';

export interface BuildDataOptions {
  outDir: string;
  onProgress?: (stage: PrepareStage, fraction: number) => void;
}

export interface BuiltData extends TrainData {
  prepared: PreparedData;
}

export function buildTrainData(run: RunConfig, opts: BuildDataOptions): BuiltData {
  const { train: t, model } = run;
  const docs = loadCorpus({ data: run.data.files });
  const prepared = prepareData({
    docs, seqLen: t.seq_len, seed: t.seed, vocabSize: model.vocab_size, validFraction: run.data.valid_fraction,
    cacheDir: join(opts.outDir, 'data-cache'), onProgress: opts.onProgress,
  });
  if (prepared.tokenizer.vocabSize > model.vocab_size) {
    throw new ConfigError(`the tokenizer has ${prepared.tokenizer.vocabSize} tokens but model.vocab_size is ${model.vocab_size}`,
      'raise model.vocab_size');
  }
  const schedule = run.data.temperature_schedule;
  const trainBatches = schedule
    ? new TemperatureBatches(prepared.train, prepared.sources, schedule, { seqLen: t.seq_len, batchSize: t.batch_size, seed: t.seed, gradAccum: t.grad_accum })
    : new TrainBatches(prepared.train, { seqLen: t.seq_len, batchSize: t.batch_size, seed: t.seed });
  const validAll = new ValidBatches(prepared.valid, { seqLen: t.seq_len, batchSize: t.batch_size });
  // eval_batches spread evenly over the validation stream, so every part of it (every genre) counts.
  const n = Math.min(t.eval_batches, validAll.count);
  const valid: Batch[] = [];
  for (let i = 0; i < n; i++) valid.push(validAll.batch(Math.floor((i * validAll.count) / n)));
  return {
    prepared,
    trainBatch: (index) => trainBatches.batch(index),
    validBatches: () => valid,
    tokenizerJson: JSON.stringify(prepared.tokenizer.toJSON(), null, 2) + '\n',
  };
}
