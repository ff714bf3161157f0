"""A PyTorch .bin copy of test/fixtures/hf/llama (tied embeddings, bf16): torch.save of the state dict as
transformers' `save_pretrained(safe_serialization=False)` used to write it — the tied lm_head.weight
shares the embedding's storage. Writes test/fixtures/hf/llama_bin/ (config.json, pytorch_model.bin);
the logits reference is llama's reference.json.  python scripts/ref/make_bin_checkpoint.py"""
import os, shutil
import torch
from transformers import AutoModelForCausalLM

HERE = os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures', 'hf')
src, out = os.path.join(HERE, 'llama'), os.path.join(HERE, 'llama_bin')
model = AutoModelForCausalLM.from_pretrained(src, dtype=torch.bfloat16)
shutil.rmtree(out, ignore_errors=True)
os.makedirs(out)
shutil.copy(os.path.join(src, 'config.json'), out)
state = model.state_dict()
assert state['lm_head.weight'].data_ptr() == state['model.embed_tokens.weight'].data_ptr()
torch.save(state, os.path.join(out, 'pytorch_model.bin'))
print(sorted(os.listdir(out)), len(state))
