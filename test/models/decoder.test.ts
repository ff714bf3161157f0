// The whole tiny model's gradients against central finite differences (reference backend, the oracle),
// and the same model on the native backend against the reference one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { referenceBackend, setBackend, tryNativeBackend, type Backend } from '../../src/backend/index.js';
import { DecoderLM, parseModelConfig } from '../../src/models/index.js';
import { Rng, noGrad, withGraph } from '../../src/tensor/index.js';

const config = parseModelConfig({
  vocab_size: 11, hidden_size: 8, intermediate_size: 12, num_hidden_layers: 2,
  num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 8, initializer_range: 0.3,
});
const B = 2;
const T = 5;

function batch(): { inputs: Int32Array; targets: Int32Array } {
  const rng = new Rng(7);
  const inputs = new Int32Array(B * T).map(() => rng.int(config.vocab_size));
  const targets = new Int32Array(B * T).map(() => rng.int(config.vocab_size));
  targets[3] = -1; // an ignored position
  return { inputs, targets };
}

function lossOf(model: DecoderLM, inputs: Int32Array, targets: Int32Array): number {
  return noGrad(() => model.loss(inputs, targets, B, T).loss.item());
}

test('tiny decoder: every parameter gradient matches central finite differences', () => {
  setBackend(referenceBackend);
  const model = new DecoderLM(config, { seed: 3 });
  const { inputs, targets } = batch();
  withGraph((g) => g.backward(model.loss(inputs, targets, B, T).loss));
  const rng = new Rng(11);
  const eps = 1e-2;
  let checked = 0;
  for (const [name, p] of model.params) {
    assert.ok(p.grad, `${name} has a gradient`);
    // Three coordinates per tensor: every weight of every layer is exercised somewhere.
    for (let s = 0; s < 3; s++) {
      const i = rng.int(p.size);
      const keep = p.data[i];
      p.data[i] = keep + eps;
      const up = lossOf(model, inputs, targets);
      p.data[i] = keep - eps;
      const down = lossOf(model, inputs, targets);
      p.data[i] = keep;
      const numeric = (up - down) / (2 * eps);
      const analytic = p.grad![i];
      assert.ok(Math.abs(numeric - analytic) <= 2e-3 + 3e-2 * Math.abs(numeric),
        `${name}[${i}]: analytic ${analytic} vs numeric ${numeric}`);
      checked++;
    }
  }
  assert.equal(checked, model.params.size * 3);
});

test('parameter names are the HF llama names', () => {
  const model = new DecoderLM(config, { seed: 1 });
  const names = [...model.params.keys()];
  for (const n of ['model.embed_tokens.weight', 'model.layers.0.input_layernorm.weight',
    'model.layers.0.self_attn.q_proj.weight', 'model.layers.0.self_attn.k_proj.weight',
    'model.layers.0.self_attn.v_proj.weight', 'model.layers.0.self_attn.o_proj.weight',
    'model.layers.1.post_attention_layernorm.weight', 'model.layers.1.mlp.gate_proj.weight',
    'model.layers.1.mlp.up_proj.weight', 'model.layers.1.mlp.down_proj.weight', 'model.norm.weight', 'lm_head.weight']) {
    assert.ok(names.includes(n), `missing ${n}`);
  }
  assert.deepEqual(model.params.get('model.layers.0.self_attn.k_proj.weight')!.shape, [4, 8]); // [nkv·hd, H]
  const tied = new DecoderLM({ ...config, tie_word_embeddings: true }, { seed: 1 });
  assert.ok(!tied.params.has('lm_head.weight'), 'tied models have no lm_head.weight (HF omits it)');
});

test('native model matches the reference model (logits, loss and gradients)', (t) => {
  const native: Backend | null = tryNativeBackend();
  if (!native) return t.skip('native build not available');
  const { inputs, targets } = batch();
  const run = (be: Backend) => {
    setBackend(be);
    const model = new DecoderLM(config, { seed: 5 });
    const loss = withGraph((g) => {
      const r = model.loss(inputs, targets, B, T);
      g.backward(r.loss);
      return r.loss.item();
    });
    return { loss, grads: [...model.params.values()].map((p) => Float32Array.from(p.grad!)) };
  };
  const ref = run(referenceBackend);
  const nat = run(native);
  setBackend(referenceBackend);
  assert.ok(Math.abs(ref.loss - nat.loss) < 1e-5, `loss ${ref.loss} vs ${nat.loss}`);
  ref.grads.forEach((g, k) => g.forEach((v, i) => {
    assert.ok(Math.abs(v - nat.grads[k][i]) <= 1e-5 + 1e-4 * Math.abs(v), `grad ${k}[${i}] ${v} vs ${nat.grads[k][i]}`);
  }));
});
