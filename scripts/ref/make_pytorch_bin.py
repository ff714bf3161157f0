"""Write the PyTorch .bin fixtures of test/io/pytorch_bin.test.ts (interop.md §2, §1.5) with real torch.save.

Run from the repository root:  /tmp/tv/bin/python scripts/ref/make_pytorch_bin.py
Writes test/fixtures/pytorch/*.bin, a sharded pair under sharded/, and expected.json: for every file
and tensor the dtype, shape and the tensor's bytes in C order (hex, little-endian) as torch reads them
back, so the TypeScript reader is checked against torch itself, bit for bit.
"""
import io
import json
import os
from collections import OrderedDict

import torch

OUT = os.path.join('test', 'fixtures', 'pytorch')
DTYPES = {torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16', torch.int64: 'I64',
          torch.int32: 'I32', torch.uint8: 'U8', torch.bool: 'BOOL'}


def c_order_hex(t: torch.Tensor) -> str:
    flat = t.detach().contiguous().reshape(-1)
    return bytes(flat.view(torch.uint8).tolist()).hex() if flat.numel() else ''


def describe(state) -> dict:
    return {name: {'dtype': DTYPES[t.dtype], 'shape': list(t.shape), 'hex': c_order_hex(t)} for name, t in state.items()}


class RunsEcho:
    def __reduce__(self):
        return (os.system, ('echo this checkpoint ran code',))


def spec_case() -> OrderedDict:
    # interop.md §2.4 test: a=f32[2,3], b=f16[3], c=bf16[2,2], d=a[1] (offset 3), e=a.t() (stride (1,3)).
    a = torch.tensor([[1.5, -2.25, 3.0], [4.0, -0.0, 1e-8]], dtype=torch.float32)
    b = torch.tensor([0.5, -65504.0, 6.1e-5], dtype=torch.float16)
    c = torch.tensor([[1.0, -3.140625], [1e30, -1e-30]], dtype=torch.bfloat16)
    return OrderedDict(a=a, b=b, c=c, d=a[1], e=a.t())


def ints_and_bools() -> OrderedDict:
    m = torch.arange(15, dtype=torch.int32).reshape(3, 5) * -7
    return OrderedDict(
        i64=torch.tensor([0, -1, 2**40, -(2**62), 2**63 - 1], dtype=torch.int64),
        i32=m,
        i32_cols=m[:, 1::2],  # offset 1, size (3,2), stride (5,2)
        u8=torch.tensor([[0, 255], [7, 128]], dtype=torch.uint8),
        mask=torch.tensor([True, False, False, True, True], dtype=torch.bool),
        scalar=torch.tensor(2.5, dtype=torch.float32),  # 0-d: size (), stride ()
        empty=torch.zeros(0, 3, dtype=torch.float32),
    )


def main() -> None:
    os.makedirs(os.path.join(OUT, 'sharded'), exist_ok=True)
    torch.manual_seed(0)
    expected = {}

    def save(name: str, state, **kw) -> None:
        torch.save(state, os.path.join(OUT, name), **kw)
        # weights_only=False: torch's own safe unpickler lacks FRAME (protocol 4); these files are ours.
        back = torch.load(os.path.join(OUT, name), weights_only=False)
        expected[name] = describe(back)

    save('spec_case.bin', spec_case())
    save('spec_case_proto4.bin', spec_case(), pickle_protocol=4)
    save('ints_and_bools.bin', ints_and_bools())
    save('parameter.bin', {'weight': torch.nn.Parameter(torch.tensor([[0.25, -1.0], [3.0, 8.5]]))})
    # A module's state_dict carries `_metadata`, pickled as a BUILD on the OrderedDict (§2.3).
    linear = torch.nn.Linear(3, 2)
    save('linear_state_dict.bin', linear.state_dict())

    # A hostile checkpoint as an attacker makes one: unpickling it would call os.system (harmless echo).
    # Not loaded back here; the reader must refuse it by the global's name ("posix system" on Linux).
    torch.save(OrderedDict(w=torch.ones(2), evil=RunsEcho()), os.path.join(OUT, 'hostile_os_system.bin'))

    # Saved to a stream, the archive folder is not the file stem (§2.1: take the first entry's prefix).
    buf = io.BytesIO()
    torch.save(OrderedDict(x=torch.tensor([1.0, 2.0, 3.0])), buf)
    with open(os.path.join(OUT, 'stream_save.bin'), 'wb') as f:
        f.write(buf.getvalue())
    expected['stream_save.bin'] = describe(torch.load(os.path.join(OUT, 'stream_save.bin'), weights_only=True))

    # Sharded pair + index (§1.5), as transformers' save_pretrained(safe_serialization=False) names them.
    shards = {
        'pytorch_model-00001-of-00002.bin': OrderedDict([('model.embed_tokens.weight', torch.randn(4, 3)),
                                                         ('model.norm.weight', torch.ones(3, dtype=torch.bfloat16))]),
        'pytorch_model-00002-of-00002.bin': OrderedDict([('lm_head.weight', torch.randn(4, 3).to(torch.float16))]),
    }
    weight_map, total = {}, 0
    for file, state in shards.items():
        torch.save(state, os.path.join(OUT, 'sharded', file))
        for name, t in state.items():
            weight_map[name] = file
            total += t.numel() * t.element_size()
    with open(os.path.join(OUT, 'sharded', 'pytorch_model.bin.index.json'), 'w') as f:
        json.dump({'metadata': {'total_size': total}, 'weight_map': weight_map}, f, indent=2)
    expected['sharded'] = {}
    for file in shards:
        expected['sharded'].update(describe(torch.load(os.path.join(OUT, 'sharded', file), weights_only=True)))

    expected['_torch_version'] = torch.__version__
    with open(os.path.join(OUT, 'expected.json'), 'w') as f:
        json.dump(expected, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
