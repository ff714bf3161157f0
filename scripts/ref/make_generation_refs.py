"""Greedy continuations with HF's repetition penalty (interop §3.8: generation_config.json's
repetition_penalty), made by transformers' own generate() on the committed tiny checkpoints
test/fixtures/hf/<name>. Run once with a Python that has torch + transformers:
    python scripts/ref/make_generation_refs.py
Writes test/fixtures/generation/repetition_penalty.json; the project's tests only read it.
"""
import json, os, sys
import torch
import transformers
from transformers import AutoModelForCausalLM

HERE = os.path.dirname(__file__)
FIXTURES = os.path.join(HERE, '..', '..', 'test', 'fixtures')
PROMPT = [5, 17, 33, 2, 80, 61, 9]


def main():
    cases = []
    for name in ['llama', 'mixtral_rope_linear']:
        model = AutoModelForCausalLM.from_pretrained(os.path.join(FIXTURES, 'hf', name), dtype=torch.float32).eval()
        for penalty in [1.0, 1.3, 2.5]:
            with torch.no_grad():
                out = model.generate(torch.tensor([PROMPT]), max_new_tokens=12, do_sample=False, repetition_penalty=penalty,
                                     eos_token_id=None, pad_token_id=0)
            cases.append({'model': name, 'repetition_penalty': penalty, 'prompt': PROMPT, 'new_tokens': out[0, len(PROMPT):].tolist()})
    os.makedirs(os.path.join(FIXTURES, 'generation'), exist_ok=True)
    with open(os.path.join(FIXTURES, 'generation', 'repetition_penalty.json'), 'w') as f:
        json.dump({'generator': 'scripts/ref/make_generation_refs.py',
                   'versions': {'torch': torch.__version__, 'transformers': transformers.__version__}, 'cases': cases}, f)
    for c in cases:
        print(c['model'], c['repetition_penalty'], c['new_tokens'])


if __name__ == '__main__':
    sys.exit(main())
