// `moekit convert`: a model directory → a GGUF file for llama.cpp (interop.md §5), or → a HuggingFace
// directory (§3.9). Prints a progress line per tensor, then what was written; a model llama.cpp cannot
// reproduce is refused with the reason.
import { statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { exportGguf, GGUF_DTYPES, type GgufDtype } from '../io/gguf/index.js';
import { exportHf, type ExportDtype } from '../io/hf/export.js';
import { loadModel } from '../io/load.js';
import type { Command } from './command.js';
import { intFlag, parseFlags, stringFlag, UsageError } from './args.js';
import { ProgressBar } from './progress.js';

const USAGE = `moekit convert --model DIR --to gguf|hf [options]

  --model DIR        a model directory (config.json, weights, tokenizer.json): a run directory written
                     by moekit train, or a HuggingFace checkpoint
  --to gguf          GGUF v3, loadable by llama.cpp
  --to hf            a HuggingFace directory (model.safetensors, config.json, tokenizer files): an HF
                     checkpoint keeps its architecture; a moekit model becomes mixtral or llama when it
                     is exactly one (transformers loads those), else moekit's own moekit_moe config
  --dtype T          tensor type: gguf ${GGUF_DTYPES.join(', ')} (default f32; norms and routers stay f32);
                     hf f32, f16, bf16 (default f32)
  --out PATH         output file (gguf; default DIR/model-<dtype>.gguf) or new directory (hf; default
                     DIR-hf)
  --approximate      export routers llama.cpp cannot reproduce exactly (Top-P, dense_to_sparse,
                     eval-time capacity) as llama's renormalised top-k anyway: outputs will differ
  --k K              experts per token of an --approximate export (default: the router's k, else 2)

Exact exports: dense models and renormalised top-k MoE (Mixtral-style; also noisy top-k and GShard,
whose inference routing is the same) as llama.cpp's "llama"; raw-weight top-k and Switch as "qwen2moe".`;

export const convert: Command = {
  name: 'convert',
  summary: 'export a model to GGUF for llama.cpp (dense and top-k MoE) or to a HuggingFace directory',
  usage: USAGE,
  async run(argv) {
    const { values } = parseFlags('convert', argv, {
      model: { type: 'string' }, to: { type: 'string' }, dtype: { type: 'string' }, out: { type: 'string' },
      approximate: { type: 'boolean' }, k: { type: 'string' },
    });
    const dir = stringFlag(values.model);
    if (!dir) throw new UsageError('moekit convert: --model DIR is required', 'see moekit convert --help');
    const to = stringFlag(values.to);
    if (to !== 'gguf' && to !== 'hf') throw new UsageError(`moekit convert: --to must be "gguf" or "hf"${to === undefined ? '' : `, got "${to}"`}`);
    if (to === 'hf') return convertToHf(dir, stringFlag(values.dtype), stringFlag(values.out), values);
    const dtype = (stringFlag(values.dtype) ?? 'f32').toLowerCase();
    if (!GGUF_DTYPES.includes(dtype as GgufDtype)) throw new UsageError(`moekit convert: --dtype must be one of ${GGUF_DTYPES.join(', ')}, got "${dtype}"`);
    const approximateK = intFlag('convert', 'k', values.k);
    if (approximateK !== undefined && !values.approximate) throw new UsageError('moekit convert: --k only applies with --approximate');
    const out = resolve(stringFlag(values.out) ?? join(dir, `model-${dtype}.gguf`));

    let bar: ProgressBar | null = null; // the tensor count is known once the export is planned
    const result = exportGguf(resolve(dir), out, {
      dtype: dtype as GgufDtype, approximate: Boolean(values.approximate), approximateK,
      onTensor: (i, n, name) => {
        bar ??= new ProgressBar(`convert ${basename(resolve(dir))} → ${basename(out)}`, n);
        bar.update(i + 1, { tensor: name }, i + 1 === n);
      },
    });
    (bar as ProgressBar | null)?.finish();
    for (const w of result.warnings) process.stderr.write(`moekit convert: warning: ${w}\n`);
    const size = statSync(out).size;
    process.stdout.write(`wrote ${out}: GGUF v3, arch ${result.arch}, ${result.tensorCount} tensors, ${dtype}, `
      + `${(size / 2 ** 20).toFixed(1)} MiB${result.exact ? '' : ' (approximate: see the warnings above)'}\n`);
  },
};

const HF_DTYPES: Record<string, ExportDtype> = { f32: 'F32', f16: 'F16', bf16: 'BF16' };

function convertToHf(dir: string, dtypeFlag: string | undefined, outFlag: string | undefined, values: Record<string, unknown>): void {
  for (const f of ['approximate', 'k']) if (values[f] !== undefined) throw new UsageError(`moekit convert: --${f} only applies with --to gguf`);
  const dtype = HF_DTYPES[(dtypeFlag ?? 'f32').toLowerCase()];
  if (!dtype) throw new UsageError(`moekit convert: --dtype for --to hf must be one of ${Object.keys(HF_DTYPES).join(', ')}, got "${dtypeFlag}"`);
  // 16-bit weights stay as held for a 16-bit target (written as they are, or converted one at a time);
  // an F32 target is widened at load, where a 16-bit-held model would need its f32 copy on top.
  const source = loadModel(resolve(dir), { weights: dtype === 'F32' ? 'f32' : 'auto' });
  const out = resolve(outFlag ?? `${resolve(dir)}-hf`);
  const r = exportHf(source.model, out, { dtype, sourceDir: source.dir, source });
  process.stdout.write(`wrote ${out}: HuggingFace ${r.architecture}, ${r.tensors} tensors, ${dtype}, ${(r.bytes / 2 ** 20).toFixed(1)} MiB\n`);
}
