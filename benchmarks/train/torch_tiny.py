"""PyTorch CPU reference for the `train-tiny` recipe's training step (benchmark only; not used by the
build or the tests).

Same model and step as lmrepro-model's `train-tiny`: open_lm architecture (gain-only LayerNorm eps 1e-5,
qk-norm over the full width, rotary base 10000 rotate-half, SwiGLU hidden 256*ceil(int(8d/3)/256), no
biases, untied), d=128, 4 layers, 4 heads, vocab 257, context 128; global batch 16 = 2 micro-batches of 8;
loss CE + 1e-4 * mean(logsumexp^2); torch.nn.utils.clip_grad_norm_(1.0); AdamW(0.9, 0.95, eps 1e-8,
wd 0.033), f32, eager, SDPA causal attention (what open_lm's torch_attn uses).

    python3 torch_tiny.py [threads] [warmup] [steps]
Prints one JSON line: seconds_per_step, tokens_per_s.
"""
import json
import math
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

D, L, H, V, T = 128, 4, 4, 257, 128
GLOBAL, MICRO = 16, 8


class Norm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return F.layer_norm(x, (x.shape[-1],), self.weight, None, 1e-5)


def rotary(t, hd):
    inv = 1.0 / (10000 ** (torch.arange(0, hd, 2).float() / hd))
    f = torch.einsum("i,j->ij", torch.arange(t, dtype=torch.float32), inv)
    emb = torch.cat((f, f), dim=-1)
    return emb.cos()[None, :, None, :], emb.sin()[None, :, None, :]


def rot_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


class Block(nn.Module):
    def __init__(self, i):
        super().__init__()
        hidden = 256 * ((int(2 * 4 * D / 3) + 255) // 256)
        self.attention_norm, self.ffn_norm = Norm(D), Norm(D)
        self.q_norm, self.k_norm = Norm(D), Norm(D)
        self.in_proj = nn.Linear(D, 3 * D, bias=False)
        self.out_proj = nn.Linear(D, D, bias=False)
        self.w12 = nn.Linear(D, 2 * hidden, bias=False)
        self.w3 = nn.Linear(hidden, D, bias=False)
        s = 1 / math.sqrt(D)
        for w, std in [(self.in_proj, s), (self.out_proj, s / math.sqrt(2 * (i + 1))), (self.w12, s),
                       (self.w3, 1 / math.sqrt(hidden) / math.sqrt(2 * (i + 1)))]:
            nn.init.trunc_normal_(w.weight, std=std, a=-3 * std, b=3 * std)

    def forward(self, x, cos, sin):
        b, t, _ = x.shape
        q, k, v = self.in_proj(self.attention_norm(x)).chunk(3, dim=-1)
        q, k = self.q_norm(q), self.k_norm(k)
        q, k, v = (z.view(b, t, H, D // H) for z in (q, k, v))
        q = q * cos + rot_half(q) * sin
        k = k * cos + rot_half(k) * sin
        a = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True)
        h = x + self.out_proj(a.transpose(1, 2).reshape(b, t, D))
        g, u = self.w12(self.ffn_norm(h)).chunk(2, dim=-1)
        return h + self.w3(F.silu(g) * u)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(V, D)
        self.layers = nn.ModuleList(Block(i) for i in range(L))
        self.norm = Norm(D)
        self.output = nn.Linear(D, V, bias=False)
        s = 1 / math.sqrt(D)
        nn.init.trunc_normal_(self.tok.weight, std=s, a=-3 * s, b=3 * s)
        nn.init.trunc_normal_(self.output.weight, std=s, a=-3 * s, b=3 * s)
        cos, sin = rotary(T, D // H)
        self.register_buffer("cos", cos)
        self.register_buffer("sin", sin)

    def forward(self, ids):
        x = self.tok(ids)
        for blk in self.layers:
            x = blk(x, self.cos, self.sin)
        return self.output(self.norm(x))


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    warmup = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    torch.set_num_threads(threads)
    torch.manual_seed(124)
    model = Model()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.033)
    n_params = sum(p.numel() for p in model.parameters())
    data = torch.randint(0, V, (GLOBAL * (warmup + steps), T + 1))

    def step(i):
        batch = data[i * GLOBAL:(i + 1) * GLOBAL]
        total = 0.0
        for j in range(GLOBAL // MICRO):
            mb = batch[j * MICRO:(j + 1) * MICRO]
            logits = model(mb[:, :-1]).reshape(-1, V)
            loss = F.cross_entropy(logits, mb[:, 1:].reshape(-1)) + 1e-4 * torch.square(torch.logsumexp(logits, dim=-1)).mean()
            loss = loss * MICRO / GLOBAL
            loss.backward()
            total += loss.item()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0, norm_type=2.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return total

    for i in range(warmup):
        step(i)
    t0 = time.perf_counter()
    for i in range(warmup, warmup + steps):
        last = step(i)
    sps = (time.perf_counter() - t0) / steps
    print(json.dumps({"framework": f"torch {torch.__version__}", "threads": threads, "params": n_params,
                      "seconds_per_step": sps, "tokens_per_s": GLOBAL * T / sps, "final_loss": last}))


if __name__ == "__main__":
    main()
