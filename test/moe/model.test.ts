// MoE layers inside the decoder: parameter names and placement, the whole model's gradient (LM loss +
// aux losses) against finite differences for several routers, and a tiny training run per router
// whose validation loss falls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { referenceBackend, setBackend } from '../../src/backend/index.js';
import { DecoderLM, expertsPerLayer, parseModelConfig } from '../../src/models/index.js';
import { ROUTER_TYPES, type MoeRouting } from '../../src/moe/index.js';
import { Rng, noGrad, withGraph } from '../../src/tensor/index.js';
import { parseRunConfig } from '../../src/train/config.js';
import { train, evaluate } from '../../src/train/trainer.js';
import { toyData } from '../train/toy.js';

const base = {
  vocab_size: 13, hidden_size: 8, intermediate_size: 12, num_hidden_layers: 2, num_attention_heads: 2,
  num_key_value_heads: 1, max_position_embeddings: 8, initializer_range: 0.3,
};

test('placement: expert_frequency, first_k_dense_replace, moe_layers and a pyramid of expert counts', async () => {
  const cfg = (extra: Record<string, unknown>) => parseModelConfig({ ...base, num_hidden_layers: 6, router: { type: 'top_k', k: 1 }, ...extra });
  assert.deepEqual(expertsPerLayer(cfg({ num_experts: 4 })), [4, 4, 4, 4, 4, 4]);
  assert.deepEqual(expertsPerLayer(cfg({ num_experts: 4, expert_frequency: 2 })), [4, 0, 4, 0, 4, 0]);
  assert.deepEqual(expertsPerLayer(cfg({ num_experts: 4, first_k_dense_replace: 1 })), [0, 4, 4, 4, 4, 4]);
  assert.deepEqual(expertsPerLayer(cfg({ num_experts: [2, 4], moe_layers: [5, 1] })), [0, 2, 0, 0, 0, 4]);
  assert.throws(() => cfg({ num_experts: [2, 4] }), /lists 2 counts but there are 6 MoE layers/);
  assert.throws(() => cfg({ num_experts: 4, moe_layers: [6] }), /moe_layers.*layer index in \[0, 6\)/);
  assert.throws(() => parseModelConfig({ ...base, num_experts: 4 }), /needs a "router" object/);
  assert.throws(() => parseModelConfig({ ...base, num_experts: 4, router: { type: 'top_q' } }), /Unknown router "top_q"; known: top_k, top_p/);
  assert.throws(() => parseModelConfig({ ...base, num_experts: 4, router: { type: 'top_p', top_p: 1.5 } }), /top_p.*\(0, 1\]/);
  assert.throws(() => parseModelConfig({ ...base, num_experts: 4, router: { type: 'top_k', k: 5 } }), /"k"/);
});

test('MoE parameters carry HF-style names; expert slices share one stacked buffer', async () => {
  const model = new DecoderLM(parseModelConfig({ ...base, num_experts: 3, router: { type: 'deepseek', shared_experts: 1, k: 1 } }), { seed: 1 });
  const names = [...model.params.keys()];
  for (const n of ['model.layers.0.mlp.gate.weight', 'model.layers.0.mlp.experts.0.gate_proj.weight',
    'model.layers.1.mlp.experts.1.down_proj.weight', 'model.layers.0.mlp.shared_experts.up_proj.weight']) {
    assert.ok(names.includes(n), `missing ${n}`);
  }
  assert.ok(!names.includes('model.layers.0.mlp.experts.2.gate_proj.weight'), 'deepseek: 1 shared + 2 routed');
  assert.deepEqual(model.params.get('model.layers.0.mlp.gate.weight')!.shape, [2, 8]);
  const moe = model.moeLayers()[0];
  const slice = model.params.get('model.layers.0.mlp.experts.1.up_proj.weight')!;
  assert.equal(slice.data.buffer, moe.experts.up.data.buffer);
  assert.equal(slice.data.byteOffset, moe.experts.up.data.byteOffset + 12 * 8 * 4);
});

/** Expert choices of every MoE layer, to skip finite differences across a routing change. */
function routingKey(reports: { routing?: unknown }[]): string {
  return reports.map((r) => Array.from((r.routing as MoeRouting).output.assignment.expert).join(',')).join('|');
}

/** label → router config, or [router config, extra MoE model fields]. */
const GRAD_ROUTERS: Record<string, Record<string, unknown> | [Record<string, unknown>, Record<string, unknown>]> = {
  top_p: { type: 'top_p', top_p: 0.5, z_loss_coef: 1e-3 },
  residual_learned: [{ type: 'switch' }, { residual: 'learned' }],
  residual_sum: [{ type: 'top_k', k: 1, renormalize: false }, { residual: 'sum' }],
  pooled_top_k: [{ type: 'top_k', k: 2, renormalize: true, load_balance_coef: 1, z_loss_coef: 0.1 }, { router_aux_loss_reduction: 'pooled' }],
  pooled_top_p: [{ type: 'top_p', top_p: 0.5, z_loss_coef: 1e-3 }, { router_aux_loss_reduction: 'pooled' }],
  top_k: { type: 'top_k', k: 2, renormalize: true },
  top_k_raw: { type: 'top_k', k: 2, renormalize: false },
  switch: { type: 'switch' },
  deepseek: { type: 'deepseek', shared_experts: 1, k: 2, expert_balance_coef: 0.01 },
  expert_choice: { type: 'expert_choice', capacity_factor: 1 },
  base: { type: 'base' },
  // HF architecture variants (interop §3.4): Qwen2-MoE's qkv bias + gated shared expert, OLMoE's
  // full-width q/k norm, Qwen3-MoE's per-head q/k norm, Llama's attention_bias.
  qwen2_shared_gate: [{ type: 'top_k', k: 2, renormalize: false }, { qkv_bias: true, shared_expert_intermediate_size: 6, shared_expert_gate: true }],
  olmoe_qk_norm: [{ type: 'top_k', k: 2, renormalize: false }, { qk_norm: 'full', attention_bias: true }],
  qwen3_qk_norm: [{ type: 'top_k', k: 2, renormalize: true }, { qk_norm: 'per_head', head_dim: 6 }],
};

for (const [label, spec] of Object.entries(GRAD_ROUTERS)) {
  test(`${label}: the model's gradient (LM + aux losses) matches finite differences`, async () => {
    setBackend(referenceBackend);
    const [router, extra] = Array.isArray(spec) ? spec : [spec, {}];
    const config = parseModelConfig({ ...base, num_experts: 4, router, ...extra });
    const model = new DecoderLM(config, { seed: 3 });
    const B = 2;
    const T = 5;
    const rng = new Rng(9);
    const inputs = new Int32Array(B * T).map(() => rng.int(base.vocab_size));
    const targets = new Int32Array(B * T).map(() => rng.int(base.vocab_size));
    // Evaluation mode: deterministic routing, aux losses still computed (their value is auxTotal).
    const objective = () => noGrad(() => {
      const r = model.loss(inputs, targets, B, T);
      return { value: r.loss.item() + r.auxTotal, key: routingKey(r.reports) };
    });
    const baseKey = withGraph((g) => {
      const r = model.loss(inputs, targets, B, T);
      g.backward(r.loss);
      return routingKey(r.reports);
    });
    const eps = 1e-3;
    let checked = 0;
    for (const [name, p] of model.params) {
      for (let s = 0; s < 2; s++) {
        const i = rng.int(p.size);
        const keep = p.data[i];
        p.data[i] = keep + eps;
        const up = objective();
        p.data[i] = keep - eps;
        const down = objective();
        p.data[i] = keep;
        if (up.key !== baseKey || down.key !== baseKey) continue; // selection is piecewise constant
        const numeric = (up.value - down.value) / (2 * eps);
        const analytic = p.grad ? p.grad[i] : 0;
        assert.ok(Math.abs(numeric - analytic) <= 3e-3 + 5e-2 * Math.abs(numeric), `${name}[${i}]: analytic ${analytic} vs numeric ${numeric}`);
        checked++;
      }
    }
    assert.ok(checked > model.params.size, `${checked} coordinates checked`);
  });
}

for (const type of ROUTER_TYPES) {
  test(`${type}: a tiny MoE model trains and its validation loss falls`, async () => {
    const B = 4;
    const T = 16;
    const router: Record<string, unknown> = { type };
    if (type === 'deepseek') Object.assign(router, { shared_experts: 1, k: 2 });
    const run = parseRunConfig({
      model: { vocab_size: 24, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 2, num_attention_heads: 2, max_position_embeddings: T, num_experts: 4, router },
      train: { steps: 40, batch_size: B, seq_len: T, lr: 1e-2, warmup_steps: 4, log_interval: 10, eval_interval: 40, checkpoint_interval: 40, seed: 5 },
    });
    const data = toyData(B, T);
    const before = evaluate(new DecoderLM(run.model, { seed: 5 }), data.validBatches(), T);
    const result = await train(run, data, { outDir: mkdtempSync(join(tmpdir(), `moekit-${type}-`)) });
    assert.ok(result.finalValLoss! < before.loss - 0.5, `${type}: validation loss ${before.loss} → ${result.finalValLoss}`);
    const last = result.metrics.at(-1)!;
    assert.ok(Array.isArray(last.moe) && (last.moe as unknown[]).length === 2, 'per-layer routing statistics on eval steps');
    assert.ok(typeof last.mean_k === 'number' && typeof last.activated_params === 'number');
  });
}
