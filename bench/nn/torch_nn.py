"""PyTorch's side of the neural benchmarks (see README.md).

  /usr/bin/python3 bench/nn/torch_nn.py W1|W2|W3 DATA.csv [THREADS] [EPOCHS] [SEED] [fit]

Builds the workload's network as libtsa builds it (libtsa/nn/net_*.c),
prepares the windows as libtsa does (z-score with the whole series' mean and
population standard deviation, each window taken relative to the mean of
its inputs, the last 20% of the windows in time order held out), trains
with Adam for EPOCHS epochs (default 6: one warm-up, five timed), times
single-window and batched inference, and prints one JSON object. With
"fit" it only trains and prints the validation losses.
"""
import json
import math
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

LATENCY_CALLS = 1000
BATCHED = 1024
BATCHED_REPS = 5
EVAL_CHUNK = 256  # validation in chunks, as libtsa's inference batches


class LSTMNet(nn.Module):
    """libtsa/nn/net_lstm.c: one LSTM layer, the head on the last step."""

    def __init__(self, hidden=64):
        super().__init__()
        self.lstm = nn.LSTM(1, hidden, num_layers=1, batch_first=True)
        self.head = nn.Linear(hidden, 1)
        # libtsa has one bias per gate with the forget gate's set to 1
        # (nn/lstm.c); PyTorch's two biases add up to the same.
        with torch.no_grad():
            self.lstm.bias_ih_l0[hidden:2 * hidden].fill_(1.0)
            self.lstm.bias_hh_l0[hidden:2 * hidden].fill_(0.0)

    def forward(self, x):                      # x (B, L, 1)
        out, _ = self.lstm(x)
        return self.head(out[:, -1, :])


class TCNNet(nn.Module):
    """libtsa/nn/net_tcn.c: a pointwise projection to C channels, then
    h <- h + relu(conv_{k, d=2^i}(h)) with causal dilated convolutions (no
    weight normalisation, one convolution per block), the head on the last
    step's channels."""

    def __init__(self, channels=32, kernel=3, layers=3):
        super().__init__()
        self.proj = nn.Conv1d(1, channels, 1)  # = Linear(1, C), same U(+-1/sqrt(fan_in)) init
        self.convs = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel, dilation=2 ** i) for i in range(layers))
        self.pads = [(kernel - 1) * 2 ** i for i in range(layers)]
        self.head = nn.Linear(channels, 1)

    def forward(self, x):                      # x (B, L, 1)
        h = self.proj(x.transpose(1, 2))       # (B, C, L)
        for conv, pad in zip(self.convs, self.pads):
            h = h + F.relu(conv(F.pad(h, (pad, 0))))
        return self.head(h[:, :, -1])


def sinusoid(L, D):
    """nn/posenc.c: sin on even, cos on odd columns, 10000^(-2i/D)."""
    pe = torch.zeros(L, D)
    pos = torch.arange(L, dtype=torch.float64)[:, None]
    freq = torch.pow(10000.0, -torch.arange(0, D, 2, dtype=torch.float64) / D)
    pe[:, 0::2] = torch.sin(pos * freq).float()
    pe[:, 1::2] = torch.cos(pos * freq).float()
    return pe


class Block(nn.Module):
    """One pre-norm layer of nn/net_transformer.c: fused QKV projection,
    causal multi-head attention, tanh-GELU feed-forward."""

    def __init__(self, D, H, ff):
        super().__init__()
        self.H = H
        self.ln1 = nn.LayerNorm(D)
        self.qkv = nn.Linear(D, 3 * D)
        self.out = nn.Linear(D, D)
        self.ln2 = nn.LayerNorm(D)
        self.ff1 = nn.Linear(D, ff)
        self.ff2 = nn.Linear(ff, D)

    def forward(self, r, mask):                # r (B, L, D), mask (L, L) additive
        B, L, D = r.shape
        H, dh = self.H, D // self.H
        q, k, v = self.qkv(self.ln1(r)).view(B, L, 3, H, dh).permute(2, 0, 3, 1, 4)
        att = torch.softmax(torch.baddbmm(mask.expand(B * H, L, L), q.reshape(B * H, L, dh),
                                          k.reshape(B * H, L, dh).transpose(1, 2),
                                          alpha=1.0 / math.sqrt(dh)), dim=-1)
        a = torch.bmm(att, v.reshape(B * H, L, dh)).view(B, H, L, dh).transpose(1, 2)
        r = r + self.out(a.reshape(B, L, D))
        return r + self.ff2(F.gelu(self.ff1(self.ln2(r)), approximate="tanh"))


class TransformerNet(nn.Module):
    """libtsa/nn/net_transformer.c: linear embedding + sinusoidal positions,
    pre-norm causal blocks, a final layer norm of the last step, the head."""

    def __init__(self, L=64, D=32, H=4, layers=2, ff=64):
        super().__init__()
        self.embed = nn.Linear(1, D)
        self.blocks = nn.ModuleList(Block(D, H, ff) for _ in range(layers))
        self.lnf = nn.LayerNorm(D)
        self.head = nn.Linear(D, 1)
        self.register_buffer("pe", sinusoid(L, D))
        self.register_buffer("mask", torch.triu(torch.full((L, L), float("-inf")), diagonal=1))

    def forward(self, x):                      # x (B, L, 1)
        r = self.embed(x) + self.pe
        for b in self.blocks:
            r = b(r, self.mask)
        return self.head(self.lnf(r[:, -1, :]))


def peak_rss_mib():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main():
    w, csv = sys.argv[1], sys.argv[2]
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    epochs = int(sys.argv[4]) if len(sys.argv) > 4 else 6
    seed = int(sys.argv[5]) if len(sys.argv) > 5 else 42
    fit_only = len(sys.argv) > 6 and sys.argv[6] == "fit"
    torch.set_num_threads(threads)
    torch.manual_seed(seed)

    x = np.loadtxt(csv, delimiter=",", skiprows=1, dtype=np.float64)
    n = len(x)
    mu, var = x.mean(), x.var()                # population variance, as libtsa
    z = ((x - mu) / math.sqrt(var)).astype(np.float32)

    L = {"W1": 30, "W2": 15, "W3": 64}[w]     # W2: the receptive field of 3 layers
    net = {"W1": LSTMNet, "W2": TCNNet, "W3": TransformerNet}[w]()
    n_params = sum(p.numel() for p in net.parameters())

    # Windows s = 0 .. n - L - 1: inputs z[s : s + L], target z[s + L], both
    # relative to the mean of the inputs (libtsa's center_windows).
    n_win = n - L
    idx = np.arange(n_win)[:, None] + np.arange(L)[None, :]
    X = z[idx]                                 # (n_win, L)
    c = X.mean(axis=1, dtype=np.float64).astype(np.float32)
    X = torch.from_numpy((X - c[:, None])[:, :, None].copy())
    Y = torch.from_numpy((z[L:] - c)[:, None].copy())
    n_val = int(n_win * 0.2)
    n_tr = n_win - n_val
    Xtr, Ytr, Xva, Yva = X[:n_tr], Y[:n_tr], X[n_tr:], Y[n_tr:]

    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    wall, cpu, tr_mse, va_mse = [], [], [], []
    t_fit = time.perf_counter()
    for _ in range(epochs):
        t0, c0 = time.perf_counter(), time.process_time()
        net.train()
        perm = torch.randperm(n_tr, generator=gen)
        sse = 0.0
        for i in range(0, n_tr, 32):
            b = perm[i:i + 32]
            xb, yb = Xtr[b], Ytr[b]
            opt.zero_grad(set_to_none=True)
            loss = F.mse_loss(net(xb), yb)
            loss.backward()
            opt.step()
            sse += loss.item() * len(b)
        net.eval()
        with torch.no_grad():
            v = sum(F.mse_loss(net(Xva[i:i + EVAL_CHUNK]), Yva[i:i + EVAL_CHUNK],
                               reduction="sum").item()
                    for i in range(0, n_val, EVAL_CHUNK)) / n_val
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        tr_mse.append(sse / n_tr)
        va_mse.append(v)
    fit_s = time.perf_counter() - t_fit
    rss_fit = peak_rss_mib()
    at5 = min(5, epochs) - 1
    if fit_only:
        print(json.dumps({"workload": w, "impl": "pytorch", "seed": seed, "val_mse": va_mse,
                          "val_mse_5": va_mse[at5]}), flush=True)
        return

    net.eval()
    x1 = X[-1:].clone()
    lat = []
    with torch.no_grad():
        for _ in range(20):
            net(x1)
        for _ in range(LATENCY_CALLS):
            t0 = time.perf_counter()
            net(x1)
            lat.append(time.perf_counter() - t0)
    lat.sort()
    xb = X[:BATCHED].clone()
    bw, bc = [], []
    with torch.no_grad():
        net(xb)
        for _ in range(BATCHED_REPS):
            t0, c0 = time.perf_counter(), time.process_time()
            net(xb)
            bw.append(time.perf_counter() - t0)
            bc.append(time.process_time() - c0)

    med = lambda a: float(np.median(a))
    out = {
        "workload": w, "impl": "pytorch", "version": torch.__version__, "threads": threads,
        "seed": seed, "window": L,
        "n_params": n_params, "train_windows": n_tr, "val_windows": n_val,
        "epoch_s": med(wall[1:]), "epoch_cpu_s": med(cpu[1:]), "epochs_s": wall[1:],
        "train_mse": tr_mse, "val_mse": va_mse,
        "val_mse_5": va_mse[at5], "val_mse_5_units": va_mse[at5] * var,
        "latency_us": med(lat) * 1e6, "latency_p90_us": lat[len(lat) * 9 // 10] * 1e6,
        "throughput_wps": BATCHED / med(bw), "throughput_cpu_wps": BATCHED / med(bc),
        "fit_s": fit_s, "peak_rss_fit_mib": rss_fit, "peak_rss_mib": peak_rss_mib(),
    }
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
