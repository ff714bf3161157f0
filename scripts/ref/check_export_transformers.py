"""Does transformers load what `moekit convert --to hf` wrote, and agree on the logits?
    python scripts/ref/check_export_transformers.py DIR IDS_JSON LOGITS_JSON
LOGITS_JSON holds moekit's logits [T][V] for IDS_JSON; prints the max absolute difference (not a test:
the project's tests never run Python; this is the peer check reported in the issue note)."""
import json, sys
import torch
from transformers import AutoModelForCausalLM

model = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32, attn_implementation='eager').eval()
ids = json.load(open(sys.argv[2]))
ours = torch.tensor(json.load(open(sys.argv[3])))
with torch.no_grad():
    theirs = model(torch.tensor([ids])).logits[0]
print(json.dumps({'dir': sys.argv[1], 'class': type(model).__name__, 'max_abs_diff': (theirs - ours).abs().max().item()}))
