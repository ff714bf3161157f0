"""Reference outputs of a tiny DeepseekV2ForCausalLM (transformers, float32, eager) for moekit's tests.

Writes test/fixtures/hf/deepseek_v2/{config.json, model.safetensors, reference.json} in the layout of
shared/fixtures (see its README): logits at every position, per MoE layer the router logits and the
experts/weights the model multiplied its experts by, the LM loss and 8 greedy tokens.

What it exercises beyond the DeepSeek-V3 fixture: softmax scores with group_limited_greedy (group score =
max), raw weights × routed_scaling_factor, a plain q_proj (q_lora_rank null), v_head_dim > qk head dim,
attention biases, RoPE on adjacent pairs through a complex view, two shared experts, moe_layer_freq.

Run: /tmp/tv/bin/python scripts/ref/deepseek_v2.py   (needs torch and transformers >= 5)
"""
import json
import os
import sys

import torch
import transformers
from transformers import DeepseekV2Config, DeepseekV2ForCausalLM

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "hf", "deepseek_v2")
SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 7


def sig(x, digits=7):
    return float(f"{x:.{digits}g}")


def main():
    torch.manual_seed(SEED)
    config = DeepseekV2Config(
        vocab_size=96, hidden_size=32, intermediate_size=40, num_hidden_layers=4, num_attention_heads=4,
        num_key_value_heads=4, q_lora_rank=None, kv_lora_rank=12, qk_nope_head_dim=6, qk_rope_head_dim=4,
        v_head_dim=12, n_routed_experts=8, n_shared_experts=2, moe_intermediate_size=8, num_experts_per_tok=3,
        topk_method="group_limited_greedy", n_group=4, topk_group=2, routed_scaling_factor=1.5,
        first_k_dense_replace=1, moe_layer_freq=1, norm_topk_prob=False, attention_bias=True,
        max_position_embeddings=64, rms_norm_eps=1e-6, initializer_range=0.2, tie_word_embeddings=False,
        bos_token_id=1, eos_token_id=2,
    )
    config._attn_implementation = "eager"
    model = DeepseekV2ForCausalLM(config).float().eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".bias") or "layernorm" in name or name.endswith("norm.weight"):
                p.copy_(torch.randn_like(p) * 0.2 + (1.0 if name.endswith("weight") else 0.0))

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
            probs = logits.softmax(-1)
            rows = []
            for t in range(length):
                pairs = sorted(zip(indices[t].tolist(), weights[t].tolist()), key=lambda p: (-p[1], p[0]))
                rows.append(pairs)
                # distance to a tie: of the group choice, and k-th vs (k+1)-th prob among the kept groups
                groups = probs[t].view(config.n_group, -1).max(-1).values
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

    os.makedirs(OUT, exist_ok=True)
    model.save_pretrained(OUT, safe_serialization=True)
    for extra in ("generation_config.json",):
        path = os.path.join(OUT, extra)
        if os.path.exists(path):
            os.remove(path)
    reference = {
        "fixture": "deepseek_v2",
        "generator": "scripts/ref/deepseek_v2.py",
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
            "biases and RMSNorm scales drawn N(0, 0.2) (+1 for the scales) so that they matter",
            "topk_indices/topk_weights: per token by descending weight (ties: lower id), as the gate returned them",
        ],
    }
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(reference, f)
    print("min gap", min_gap, "new tokens", new_tokens)


if __name__ == "__main__":
    main()
