"""Reference outputs for the DeepSeekMoE v1 checkpoint format (remote-code `deepseek`, interop §3.4),
which transformers does not ship: transformers' own Llama decoder (attention, norms, RoPE) with each MoE
layer's MLP replaced by DeepSeekMoE v1's block as the spec and the remote code describe it —
softmax over routed experts → top-k → divided by (sum + 1e-20) when k > 1 and norm_topk_prob → Σ w·E_e(x)
+ shared(x) (ungated, n_shared × moe_intermediate_size); layer L is MoE iff L ≥ first_k_dense_replace and
L % moe_layer_freq == 0. Writes test/fixtures/hf/deepseek/ (config.json, model.safetensors,
reference.json). Run with torch + transformers:  python scripts/ref/make_deepseek_v1_ref.py"""
import json, os, shutil
import torch
from torch import nn
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.models.llama.modeling_llama import LlamaMLP

OUT = os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures', 'hf', 'deepseek')
CFG = dict(vocab_size=96, hidden_size=32, intermediate_size=40, moe_intermediate_size=12, num_hidden_layers=4,
           num_attention_heads=4, num_key_value_heads=4, n_routed_experts=6, n_shared_experts=2, num_experts_per_tok=3,
           first_k_dense_replace=1, moe_layer_freq=1, norm_topk_prob=True, scoring_func='softmax', topk_method='greedy',
           rms_norm_eps=1e-6, rope_theta=10000.0, max_position_embeddings=64, bos_token_id=1, eos_token_id=2,
           aux_loss_alpha=0.001, seq_aux=True, attention_bias=False, hidden_act='silu', tie_word_embeddings=False,
           model_type='deepseek', architectures=['DeepseekForCausalLM'], torch_dtype='float32')
SEQS = [[5, 17, 33, 2, 80, 61, 9], [3, 44, 44, 91, 12, 70, 25, 8, 60, 33, 1, 77]]


class DeepseekV1MoE(nn.Module):
    def __init__(self, llama_cfg):
        super().__init__()
        H, I = CFG['hidden_size'], CFG['moe_intermediate_size']
        self.gate = nn.Linear(H, CFG['n_routed_experts'], bias=False)
        self.experts = nn.ModuleList([LlamaMLP(LlamaConfig(hidden_size=H, intermediate_size=I)) for _ in range(CFG['n_routed_experts'])])
        self.shared_experts = LlamaMLP(LlamaConfig(hidden_size=H, intermediate_size=I * CFG['n_shared_experts']))

    def forward(self, x):
        shape = x.shape
        h = x.view(-1, shape[-1])
        scores = self.gate(h).softmax(dim=-1)
        w, idx = torch.topk(scores, CFG['num_experts_per_tok'], dim=-1, sorted=False)
        if CFG['num_experts_per_tok'] > 1 and CFG['norm_topk_prob']:
            w = w / (w.sum(dim=-1, keepdim=True) + 1e-20)
        y = torch.zeros_like(h)
        for t in range(h.shape[0]):
            for j in range(idx.shape[1]):
                y[t] += w[t, j] * self.experts[int(idx[t, j])](h[t:t + 1])[0]
        return (y + self.shared_experts(h)).view(shape)


def main():
    torch.manual_seed(20261125)
    llama_cfg = LlamaConfig(**{k: CFG[k] for k in ('vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers',
        'num_attention_heads', 'num_key_value_heads', 'rms_norm_eps', 'rope_theta', 'max_position_embeddings', 'tie_word_embeddings')},
        initializer_range=0.2)
    model = LlamaForCausalLM(llama_cfg)
    model.config._attn_implementation = 'eager'
    moe_layers = [l for l in range(CFG['num_hidden_layers']) if l >= CFG['first_k_dense_replace'] and l % CFG['moe_layer_freq'] == 0]
    for l in moe_layers:
        model.model.layers[l].mlp = DeepseekV1MoE(llama_cfg)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if 'mlp.' in n:
                p.normal_(0, 0.2)
            if n.endswith('mlp.gate.weight'):
                p.mul_(4.0)  # spread the router logits: no near-ties in top-k
    model.eval()
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    state = {k: v.contiguous() for k, v in model.state_dict().items() if 'rotary_emb' not in k}
    save_file(state, os.path.join(OUT, 'model.safetensors'), metadata={'format': 'pt'})
    json.dump(CFG, open(os.path.join(OUT, 'config.json'), 'w'), indent=2)
    ref = {'generator': 'scripts/ref/make_deepseek_v1_ref.py', 'moe_layers': moe_layers, 'sequences': []}
    with torch.no_grad():
        for ids in SEQS:
            logits = model(torch.tensor([ids])).logits[0]
            loss = torch.nn.functional.cross_entropy(logits[:-1], torch.tensor(ids[1:])).item()
            ref['sequences'].append({'input_ids': ids, 'logits': [[float('%.6g' % v) for v in r] for r in logits.tolist()], 'lm_loss': loss})
        ids = list(SEQS[0])
        for _ in range(6):
            ids.append(int(model(torch.tensor([ids])).logits[0, -1].argmax()))
        ref['greedy'] = {'prompt': SEQS[0], 'new_tokens': ids[len(SEQS[0]):]}
    json.dump(ref, open(os.path.join(OUT, 'reference.json'), 'w'))
    print(sorted(state)[:12], len(state))


if __name__ == '__main__':
    main()
