"""Per-op profile of one PyTorch training step of each reference model (shared/bench/REFERENCE.md).

The models are those of shared/bench/torch_reference.py (same layers, batch sizes, Adam 1e-3,
softmax cross-entropy, random inputs). After warm-up steps, `torch.profiler` records `--steps`
training steps; each op's self CPU time (time in the op less the ops it called), summed by name
and divided by the steps, is printed as one JSON line per model:

  {"model": ..., "threads": 2, "steps": 5, "wall_ms": ..., "kernel_ms": ..., "calls": ...,
   "ops": [{"name": "aten::addmm", "calls": 6.0, "ms": 1.23, "shapes": "[[128], [128, 784], ...]"}, ...]}

Run with Debian's python3 and python3-torch, as the bench does:
  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tests/bench/torch_profile.py --models transformer --threads 2
"""
import argparse, json, time
from collections import defaultdict

import torch
import torch.nn as nn
from torch.profiler import ProfilerActivity, profile

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--models", default="mlp,lstm,transformer,cnn")
ap.add_argument("--steps", type=int, default=5)
ap.add_argument("--warmup", type=int, default=3)
a = ap.parse_args()
torch.set_num_threads(a.threads)
VOCAB = 5000


class MLP(nn.Module):
    def __init__(s):
        super().__init__()
        s.net = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))

    def forward(s, x):
        return s.net(x)


class LSTMClf(nn.Module):
    def __init__(s):
        super().__init__()
        s.emb = nn.Embedding(VOCAB, 64)
        s.lstm = nn.LSTM(64, 64, batch_first=True)
        s.fc = nn.Linear(64, 2)

    def forward(s, x):
        _, (h, _) = s.lstm(s.emb(x))
        return s.fc(h[-1])


class TransformerClf(nn.Module):
    def __init__(s, T=64, D=64):
        super().__init__()
        s.emb = nn.Embedding(VOCAB, D)
        s.pos = nn.Parameter(torch.randn(T, D) * 0.02)
        layer = nn.TransformerEncoderLayer(D, 4, 128, dropout=0.0, batch_first=True)
        s.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        s.fc = nn.Linear(D, 2)

    def forward(s, x):
        return s.fc(s.enc(s.emb(x) + s.pos).mean(1))


class KimCNN(nn.Module):
    def __init__(s):
        super().__init__()
        s.emb = nn.Embedding(VOCAB, 64)
        s.convs = nn.ModuleList([nn.Conv1d(64, 100, k) for k in (3, 4, 5)])
        s.fc = nn.Linear(300, 2)

    def forward(s, x):
        e = s.emb(x).transpose(1, 2)  # [B, 64, T]
        return s.fc(torch.cat([torch.relu(c(e)).amax(2) for c in s.convs], 1))


SPECS = {
    "mlp": (MLP, 128, lambda n: (torch.randn(n, 784), torch.randint(0, 10, (n,)))),
    "lstm": (LSTMClf, 64, lambda n: (torch.randint(0, VOCAB, (n, 100)), torch.randint(0, 2, (n,)))),
    "transformer": (TransformerClf, 32, lambda n: (torch.randint(0, VOCAB, (n, 64)), torch.randint(0, 2, (n,)))),
    "cnn": (KimCNN, 64, lambda n: (torch.randint(0, VOCAB, (n, 100)), torch.randint(0, 2, (n,)))),
}


def step(model, opt, lossf, x, y):
    opt.zero_grad()
    loss = lossf(model(x), y)
    loss.backward()
    opt.step()
    loss.item()  # the same per-batch read-back as tfjs's


for name in a.models.split(","):
    cls, bs, mk = SPECS[name]
    torch.manual_seed(0)
    model = cls()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    lossf = nn.CrossEntropyLoss()
    x, y = mk(bs)
    for _ in range(a.warmup):
        step(model, opt, lossf, x, y)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        t0 = time.perf_counter()
        for _ in range(a.steps):
            step(model, opt, lossf, x, y)
        wall = (time.perf_counter() - t0) * 1000 / a.steps
    ops = defaultdict(lambda: {"calls": 0, "us": 0.0, "shapes": defaultdict(int)})
    for e in prof.key_averages(group_by_input_shape=True):
        o = ops[e.key]
        o["calls"] += e.count
        o["us"] += e.self_cpu_time_total
        o["shapes"][str(e.input_shapes)] += e.count
    rows = []
    for k, o in ops.items():
        if o["us"] <= 0:
            continue
        shapes = max(o["shapes"].items(), key=lambda kv: kv[1])[0]
        rows.append({"name": k, "calls": o["calls"] / a.steps, "ms": o["us"] / 1000 / a.steps, "shapes": shapes})
    rows.sort(key=lambda r: -r["ms"])
    kernel = sum(r["ms"] for r in rows)
    # profiler-record rows (the optimizer's step, autograd's engine) carry self time too
    calls = sum(r["calls"] for r in rows if r["name"].startswith("aten::"))
    rows.append({"name": "(outside ops)", "calls": 0, "ms": max(0.0, wall - kernel), "shapes": ""})
    print(json.dumps({"model": name, "threads": a.threads, "steps": a.steps, "wall_ms": wall,
                      "kernel_ms": kernel, "calls": calls, "ops": rows}), flush=True)
