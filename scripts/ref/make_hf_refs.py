"""Reference outputs for HF architectures that ../shared/fixtures does not cover (interop §3.4).

Tiny random models made and run by HuggingFace transformers itself (float32, eager attention), saved with
save_pretrained into test/fixtures/hf/<name>/ with reference.json: logits at every position of two
sequences, the LM loss and 6 greedy tokens. Run once with a Python that has torch + transformers:
    python scripts/ref/make_hf_refs.py          # the architectures
    python scripts/ref/make_hf_refs.py --rope   # the RoPE scaling types (llama3, linear)
The project's tests only read the files this writes.
"""
import copy, json, os, shutil, sys
import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM

OUT = os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures', 'hf')
COMMON = dict(vocab_size=96, hidden_size=32, num_hidden_layers=3, num_attention_heads=4, max_position_embeddings=64,
              initializer_range=0.2, bos_token_id=1, eos_token_id=2, pad_token_id=0)

MODELS = {
    # GQA, tied embeddings (lm_head omitted on disk), attention biases, bf16 storage.
    'llama': ('llama', dict(intermediate_size=40, num_key_value_heads=2, tie_word_embeddings=True, attention_bias=True), {'dtype': torch.bfloat16}),
    # full-width q/k norm, raw top-k weights, written as 2 shards.
    'olmoe': ('olmoe', dict(intermediate_size=24, num_key_value_heads=4, num_experts=6, num_experts_per_tok=2, norm_topk_prob=False),
              {'max_shard_size': '60KB'}),
    # qkv bias, gated shared expert, layer 1 dense (mlp_only_layers), raw weights.
    'qwen2_moe': ('qwen2_moe', dict(intermediate_size=40, moe_intermediate_size=16, shared_expert_intermediate_size=24,
                                     num_key_value_heads=2, num_experts=6, num_experts_per_tok=2, mlp_only_layers=[1],
                                     decoder_sparse_step=1, norm_topk_prob=False), {}),
    # head_dim 12 != hidden/heads, per-head q/k norm, renormalised weights, sparse step 2 (layer 1 MoE only).
    'qwen3_moe': ('qwen3_moe', dict(intermediate_size=40, moe_intermediate_size=16, head_dim=12, num_key_value_heads=2,
                                     num_experts=6, num_experts_per_tok=3, decoder_sparse_step=2, norm_topk_prob=True), {}),
}

# RoPE scaling (interop §3.7). llama3 at head_dim 8, theta 1e4 (wavelengths 6.3, 63, 628, 6283) with an
# original context of 64, low 1, high 4: one frequency kept (< 16), one smoothed (16..64), two interpolated.
ROPE_MODELS = {
    'llama_rope_llama3': ('llama', dict(intermediate_size=40, num_key_value_heads=2, rope_theta=10000.0,
                                        rope_scaling={'rope_type': 'llama3', 'factor': 4.0, 'low_freq_factor': 1.0,
                                                      'high_freq_factor': 4.0, 'original_max_position_embeddings': 64}), {}),
    'mixtral_rope_linear': ('mixtral', dict(intermediate_size=24, num_key_value_heads=2, num_local_experts=4, num_experts_per_tok=2,
                                            rope_theta=10000.0, rope_scaling={'rope_type': 'linear', 'factor': 3.0}), {}),
}

SEQS = [[5, 17, 33, 2, 80, 61, 9], [3, 44, 44, 91, 12, 70, 25, 8, 60, 33, 1, 77]]


def round6(x):
    return [float('%.6g' % v) for v in x]


def main():
    rope = '--rope' in sys.argv
    torch.manual_seed(20261125 if rope else 20261124)
    for name, (model_type, cfg, opts) in (ROPE_MODELS if rope else MODELS).items():
        config = AutoConfig.for_model(model_type, **COMMON, **cfg)
        model = AutoModelForCausalLM.from_config(config, attn_implementation='eager').eval()
        with torch.no_grad():  # spread the router logits so top-k ties are far away
            for n, p in model.named_parameters():
                if n.endswith('gate.weight') and p.dim() == 2 and p.shape[0] == cfg.get('num_experts', 0):
                    p.mul_(4.0)
        dtype = opts.get('dtype', torch.float32)
        if dtype != torch.float32:  # store in dtype, compute the reference from the rounded weights in f32
            with torch.no_grad():  # parameters only: .to(dtype) would also round the RoPE inv_freq buffer
                for p in model.parameters():
                    p.copy_(p.to(dtype).to(torch.float32))
        out = os.path.join(OUT, name)
        shutil.rmtree(out, ignore_errors=True)
        save_kwargs = {'max_shard_size': opts['max_shard_size']} if 'max_shard_size' in opts else {}
        copy.deepcopy(model).to(dtype).save_pretrained(out, **save_kwargs)

        ref = {'generator': 'scripts/ref/make_hf_refs.py', 'versions': {'torch': torch.__version__, 'transformers': transformers.__version__},
               'model_type': model_type, 'storage_dtype': str(dtype), 'sequences': []}
        with torch.no_grad():
            for ids in SEQS:
                x = torch.tensor([ids])
                logits = model(x).logits[0]
                loss = torch.nn.functional.cross_entropy(logits[:-1], x[0, 1:]).item()
                ref['sequences'].append({'input_ids': ids, 'logits': [round6(r.tolist()) for r in logits], 'lm_loss': loss})
            prompt = SEQS[0]
            gen = model.generate(torch.tensor([prompt]), max_new_tokens=6, do_sample=False, eos_token_id=None, pad_token_id=0)
            ref['greedy'] = {'prompt': prompt, 'new_tokens': gen[0, len(prompt):].tolist()}
        with open(os.path.join(out, 'reference.json'), 'w') as f:
            json.dump(ref, f)
        print(name, sorted(os.listdir(out)))


if __name__ == '__main__':
    sys.exit(main())
