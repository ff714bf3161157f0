"""Reference outputs of tiny DeepSeek-V2/V3 models (transformers, float32, eager) for moekit's tests.

Writes test/fixtures/hf/<name>/{config.json, model.safetensors, reference.json} in the layout of
shared/fixtures (see its README): logits at every position, per MoE layer the router logits and the
experts/weights the model multiplied its experts by, the LM loss and 8 greedy tokens.

What they exercise beyond shared/fixtures/deepseek_v3:
  deepseek_v2       softmax scores with group_limited_greedy (group score = max), raw weights ×
                    routed_scaling_factor, a plain q_proj (q_lora_rank null), v_head_dim > qk head dim,
                    attention biases, RoPE on adjacent pairs through a complex view, two shared experts.
  deepseek_v3_yarn  YaRN rope scaling (factor 4 over 8 original positions, mscale ≠ mscale_all_dim so the
                    cos/sin factor and the softmax-scale correction both differ from 1), rope_interleave
                    false, sequences longer than the original context.

Run: /tmp/tv/bin/python scripts/ref/deepseek.py   (needs torch and transformers >= 5)
"""
import json
import os
import sys

import torch
import transformers
from transformers import DeepseekV2Config, DeepseekV2ForCausalLM, DeepseekV3Config, DeepseekV3ForCausalLM

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "hf")
SEED = 7
COMMON = dict(vocab_size=96, hidden_size=32, intermediate_size=40, num_hidden_layers=4, num_attention_heads=4,
              num_key_value_heads=4, n_routed_experts=8, moe_intermediate_size=8, num_experts_per_tok=3, n_group=4,
              topk_group=2, first_k_dense_replace=1, max_position_embeddings=64, rms_norm_eps=1e-6,
              initializer_range=0.2, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2)
MODELS = {
    "deepseek_v2": (DeepseekV2Config, DeepseekV2ForCausalLM, dict(
        q_lora_rank=None, kv_lora_rank=12, qk_nope_head_dim=6, qk_rope_head_dim=4, v_head_dim=12, n_shared_experts=2,
        topk_method="group_limited_greedy", routed_scaling_factor=1.5, moe_layer_freq=1, norm_topk_prob=False,
        attention_bias=True)),
    "deepseek_v3_yarn": (DeepseekV3Config, DeepseekV3ForCausalLM, dict(
        q_lora_rank=12, kv_lora_rank=10, qk_nope_head_dim=4, qk_rope_head_dim=6, v_head_dim=8, n_shared_experts=1,
        routed_scaling_factor=2.5, norm_topk_prob=True, rope_interleave=False, max_position_embeddings=32,
        rope_parameters=dict(rope_type="yarn", rope_theta=10000.0, factor=4.0, original_max_position_embeddings=8,
                             beta_fast=32, beta_slow=1, mscale=1.0, mscale_all_dim=0.8))),
}


def sig(x, digits=7):
    return float(f"{x:.{digits}g}")


def make(name, config_cls, model_cls, extra):
    torch.manual_seed(SEED)
    config = config_cls(**{**COMMON, **extra})
    config._attn_implementation = "eager"
    model = model_cls(config).float().eval()
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if pname.endswith(".bias") or "layernorm" in pname or pname.endswith("norm.weight"):
                p.copy_(torch.randn_like(p) * 0.2 + (1.0 if pname.endswith("weight") else 0.0))
        for gate in (m for m in model.modules() if hasattr(m, "e_score_correction_bias")):
            gate.e_score_correction_bias.copy_(torch.randn_like(gate.e_score_correction_bias) * 0.05)

    moe_layers = [i for i, layer in enumerate(model.model.layers) if hasattr(layer.mlp, "gate")]
    captured = {}

    def hook(layer):
        def fn(_module, _inputs, output):
            router_logits, weights, indices = output
            captured[layer] = (router_logits.detach(), weights.detach(), indices.detach())
        return fn

    for i in moe_layers:
        model.model.layers[i].mlp.gate.register_forward_hook(hook(i))

    sequences = []
    gen = torch.Generator().manual_seed(SEED + 1)
    min_gap = float("inf")
    for length in (7, 12):
        ids = torch.randint(3, config.vocab_size, (1, length), generator=gen)
        captured.clear()
        with torch.no_grad():
            out = model(ids, labels=ids)
        moe = []
        for i in moe_layers:
            logits, weights, indices = captured[i]
            gate = model.model.layers[i].mlp.gate
            biased = hasattr(gate, "e_score_correction_bias")
            probs = logits.sigmoid() + gate.e_score_correction_bias if biased else logits.softmax(-1)
            rows = []
            for t in range(length):
                pairs = sorted(zip(indices[t].tolist(), weights[t].tolist()), key=lambda p: (-p[1], p[0]))
                rows.append(pairs)
                # distance to a tie: of the group choice, and k-th vs (k+1)-th prob among the kept groups
                groups = probs[t].view(config.n_group, -1).topk(2, -1).values.sum(-1) if biased else probs[t].view(config.n_group, -1).max(-1).values
                order = groups.argsort(descending=True)
                min_gap = min(min_gap, float(groups[order[config.topk_group - 1]] - groups[order[config.topk_group]]))
                size = config.n_routed_experts // config.n_group
                kept = sorted((probs[t][g * size + j].item() for g in order[:config.topk_group].tolist() for j in range(size)), reverse=True)
                min_gap = min(min_gap, kept[config.num_experts_per_tok - 1] - kept[config.num_experts_per_tok])
            moe.append({
                "layer": i,
                "router_logits": [[sig(v) for v in row] for row in logits.tolist()],
                "topk_indices": [[e for e, _ in row] for row in rows],
                "topk_weights": [[sig(w) for _, w in row] for row in rows],
            })
        sequences.append({
            "input_ids": ids[0].tolist(),
            "logits": [[sig(v) for v in row] for row in out.logits[0].tolist()],
            "lm_loss": sig(out.loss.item()),
            "moe": moe,
        })

    prompt = sequences[0]["input_ids"]
    with torch.no_grad():
        generated = model.generate(torch.tensor([prompt]), max_new_tokens=8, do_sample=False, eos_token_id=None, pad_token_id=0)
    new_tokens = generated[0, len(prompt):].tolist()

    out_dir = os.path.join(OUT, name)
    os.makedirs(out_dir, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    path = os.path.join(out_dir, "generation_config.json")
    if os.path.exists(path):
        os.remove(path)
    reference = {
        "fixture": name,
        "generator": "scripts/ref/deepseek.py",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        "seed": SEED,
        "dtype": "float32",
        "attn_implementation": "eager",
        "float_rounding": "7 significant digits",
        "moe_layers": moe_layers,
        "min_selection_or_group_gap": min_gap,
        "sequences": sequences,
        "greedy": {"prompt": prompt, "new_tokens": new_tokens},
        "notes": [
            "biases and RMSNorm scales drawn N(0, 0.2) (+1 for the scales), e_score_correction_bias N(0, 0.05), so that they matter",
            "topk_indices/topk_weights: per token by descending weight (ties: lower id), as the gate returned them",
        ],
    }
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump(reference, f)
    print(name, "min gap", min_gap, "new tokens", new_tokens)


if __name__ == "__main__":
    for name, (config_cls, model_cls, extra) in MODELS.items():
        if len(sys.argv) < 2 or name in sys.argv[1:]:
            make(name, config_cls, model_cls, extra)
