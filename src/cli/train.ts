// `moekit train`: one model, on the bundled corpus or the user's files.
import { readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { backend } from '../backend/index.js';
import { ConfigError } from '../tensor/index.js';
import { parseRunConfig, type RunConfig } from '../train/config.js';
import { rawPreset, presetNames } from '../train/presets.js';
import { ensureWritableDir, train, type TrainResult } from '../train/trainer.js';
import { buildTrainData } from '../train/data.js';
import type { Command } from './command.js';
import { intFlag, parseFlags, stringFlag, UsageError } from './args.js';
import { THREADS_FLAG, applyThreadsFlag } from './threads_flag.js';
import { ROUTER_TYPES } from '../moe/index.js';
import { ProgressBar, formatDuration } from './progress.js';
import { ROUTER_FLAGS, routerFromFlags } from './router_flags.js';

export const trainCommand: Command = {
  name: 'train',
  summary: 'train one model (progress bar, metrics.jsonl, atomic checkpoints, --resume)',
  usage: `moekit train (--config FILE | --preset NAME) [options]

  --config FILE     run configuration JSON: {"model": {HF llama fields}, "train": {...}, "data": {...}}
  --preset NAME     a built-in configuration: ${presetNames().join(', ')}
  --steps N         optimizer steps (overrides the configuration)
  --seed N          seed for initialisation and data order
  --data FILES      comma-separated .txt / .jsonl files instead of the bundled Brown corpus
                    (jsonl lines: {"text": "...", "source": "optional label"})
  --out DIR         run directory (default: runs/<preset or config name>)
  --resume          continue the run in --out from its latest checkpoint, exactly
  --threads N       kernel threads (default: all cores)

MoE (turns any preset or config into an MoE model; every FFN slot becomes an MoE layer unless
--expert-frequency says otherwise):
  --router TYPE           ${ROUTER_TYPES.join(', ')}
  --num-experts N         experts per MoE layer (default 8)
  --top-p P               Top-P threshold (top_p router; default 0.4)
  --k K                   experts per token (top_k, noisy_top_k, deepseek)
  --capacity-factor F     turn capacity on with this factor (default: dropless)
  --expert-frequency N    layer l is MoE iff l % N == 0 (default 1)
  --router-options JSON   any other router keys, e.g. '{"renormalize": true, "entropy_coef": 1e-4}'

The run directory receives config.json, model.safetensors and tokenizer.json (an HF model directory),
metrics.jsonl (one JSON object per logged step) and checkpoints/ (written atomically).
Ctrl-C stops after the current step and writes a checkpoint; rerun with --resume to continue.`,
  async run(argv) {
    const { values } = parseFlags('train', argv, {
      config: { type: 'string' }, preset: { type: 'string' }, steps: { type: 'string' }, seed: { type: 'string' },
      data: { type: 'string' }, out: { type: 'string' }, resume: { type: 'boolean' }, ...THREADS_FLAG,
      ...TRAIN_ROUTER_FLAGS,
    });
    const run = resolveRunConfig('train', values);
    const outDir = resolve(stringFlag(values.out) ?? `runs/${runName(values)}`);
    applyThreadsFlag('train', values);
    const result = await trainWithProgress(run, outDir, Boolean(values.resume), `train`);
    const ppl = result.finalValLoss !== null ? Math.exp(result.finalValLoss).toFixed(2) : '--';
    const loss = result.finalValLoss !== null ? result.finalValLoss.toFixed(4) : '--';
    if (result.stopped) {
      process.stdout.write(`stopped at step ${result.steps}; checkpoint saved. Continue with: moekit train ${argv.filter((a) => a !== '--resume').join(' ')} --resume\n`);
    } else {
      process.stdout.write(`done: ${result.steps} steps, ${result.tokens.toLocaleString('en-US')} tokens, validation loss ${loss} (perplexity ${ppl}). Model: ${outDir}\n`);
    }
  },
};

function runName(values: Record<string, unknown>): string {
  if (values.preset) return String(values.preset);
  return basename(String(values.config)).replace(/\.json$/i, '');
}

/** --config or --preset, with --steps/--seed/--data applied before validation. */
export function resolveRunConfig(command: string, values: Record<string, unknown>): RunConfig {
  const configPath = stringFlag(values.config);
  const presetName = stringFlag(values.preset);
  if (!configPath === !presetName) throw new UsageError(`moekit ${command}: give exactly one of --config FILE or --preset NAME`, `presets: ${presetNames().join(', ')}`);
  let raw: Record<string, unknown>;
  let where: string;
  if (configPath) {
    let text: string;
    try {
      text = readFileSync(configPath, 'utf8');
    } catch (e) {
      throw new UsageError(`moekit ${command}: cannot read --config ${configPath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    try {
      raw = JSON.parse(text) as Record<string, unknown>;
    } catch (e) {
      throw new ConfigError(`${configPath}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${configPath}: expected a JSON object`);
    where = configPath;
  } else {
    raw = rawPreset(presetName!);
    where = `preset ${presetName}`;
  }
  const trainSection = { ...((raw.train as Record<string, unknown> | undefined) ?? {}) };
  const steps = intFlag(command, 'steps', values.steps);
  if (steps !== undefined) {
    trainSection.steps = steps;
    // Keep evaluation and checkpoints inside a shortened run.
    for (const k of ['eval_interval', 'checkpoint_interval', 'warmup_steps'] as const) {
      const v = trainSection[k];
      if (typeof v === 'number' && v > steps) trainSection[k] = k === 'warmup_steps' ? Math.floor(steps / 10) : steps;
    }
  }
  const seed = intFlag(command, 'seed', values.seed, 0);
  if (seed !== undefined) trainSection.seed = seed;
  const dataSection = { ...((raw.data as Record<string, unknown> | undefined) ?? {}) };
  const data = stringFlag(values.data);
  if (data !== undefined) {
    const files = data.split(',').map((f) => f.trim()).filter(Boolean);
    if (files.length === 0) throw new UsageError(`moekit ${command}: --data needs at least one file`);
    dataSection.files = files.map((f) => resolve(f));
  }
  const modelSection = applyRouterFlags(command, { ...((raw.model as Record<string, unknown> | undefined) ?? {}) }, values);
  return parseRunConfig({ ...raw, model: modelSection, train: trainSection, data: dataSection }, where);
}

/** train's MoE flags: the shared router flags plus the experts' count and placement. */
const TRAIN_ROUTER_FLAGS = { ...ROUTER_FLAGS, 'num-experts': { type: 'string' }, 'expert-frequency': { type: 'string' } } as const;

/** --router and its options → the model section's MoE fields (validated later with the whole config). */
function applyRouterFlags(command: string, model: Record<string, unknown>, values: Record<string, unknown>): Record<string, unknown> {
  const router = routerFromFlags(command, values, ['num-experts', 'expert-frequency']);
  if (!router) return model;
  const freq = intFlag(command, 'expert-frequency', values['expert-frequency']);
  return {
    ...model,
    num_experts: intFlag(command, 'num-experts', values['num-experts']) ?? model.num_experts ?? 8,
    router,
    ...(freq !== undefined ? { expert_frequency: freq } : {}),
  };
}

/** Prepare data and train with a progress bar; Ctrl-C stops cleanly after the current step. */
export async function trainWithProgress(run: RunConfig, outDir: string, resume: boolean, label: string): Promise<TrainResult> {
  ensureWritableDir(outDir);
  // One bar per data stage (tokenizer word counts, merges, encoding); nothing shows when cached.
  let stageBar: ProgressBar | null = null;
  let stageName = '';
  const data = buildTrainData(run, {
    outDir,
    onProgress: (stage, fraction) => {
      if (stage !== stageName) {
        stageBar?.finish();
        stageName = stage;
        stageBar = new ProgressBar(`${label}: data ${stage}`, 100);
      }
      stageBar!.update(Math.round(fraction * 100));
    },
  });
  (stageBar as ProgressBar | null)?.finish();
  let stop = false;
  const onSigint = () => {
    if (stop) process.exit(130);
    stop = true;
    process.stderr.write('\nmoekit: stopping after this step and writing a checkpoint (Ctrl-C again to abort now)\n');
  };
  process.on('SIGINT', onSigint);
  const bar = new ProgressBar(label, run.train.steps);
  let lastLoss = '--';
  let lastVal = '';
  const started = performance.now();
  try {
    const result = await train(run, data, {
      outDir, resume,
      shouldStop: () => stop,
      events: {
        onStart: (info) => {
          bar.resumeFrom(info.startStep);
          bar.log(`${label}: ${info.parameters.toLocaleString('en-US')} parameters, ${info.tokensPerStep.toLocaleString('en-US')} tokens/step, ` +
            `backend ${backendLabel()}${info.startStep > 0 ? `, resuming at step ${info.startStep}` : ''}`);
        },
        onStep: (rec) => {
          lastLoss = (rec.train_loss as number).toFixed(4);
          if (rec.val_loss !== undefined) {
            lastVal = (rec.val_loss as number).toFixed(4);
            bar.log(`${label}: step ${rec.step} val_loss ${lastVal} (ppl ${(rec.val_ppl as number).toFixed(2)})`);
          }
          bar.update(rec.step, {
            loss: lastLoss, ...(lastVal ? { val: lastVal } : {}),
            'tok/s': Math.round(rec.tok_per_s as number).toLocaleString('en-US'),
          });
        },
      },
    });
    bar.finish();
    process.stderr.write(`${label}: ${formatDuration((performance.now() - started) / 1000)} wall\n`);
    return result;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** The backend in use, for progress lines. */
export function backendLabel(): string {
  const be = backend();
  return be.name === 'native' ? `native/${be.isa}, ${be.threads()} threads` : 'reference (slow)';
}
