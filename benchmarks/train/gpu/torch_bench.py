"""PyTorch eager reference for `lmrepro bench-shape` (benchmark only; never used by the build or the tests).

The same two architectures as lmrepro-model (`crates/model/src/model.rs`, `shape_bench.rs`):

- gpt2-small: d 768, 12 layers, 12 heads, learned positions, LayerNorm with bias (eps 1e-5), biased
  linears, exact-erf GELU MLP 4d, untied head without bias, vocabulary 50,304: 163,109,376 parameters.
- openlm-411m: DCLM 400M-1x open_lm: d 1024, 24 layers, 8 heads, gain-only LayerNorm (eps 1e-5),
  qk-norm over the full width, rotary (base 10000, rotate-half, full head dim), SwiGLU with fused w12
  (gate first) of hidden 2816, no biases, untied head, vocabulary 50,432: 411,665,408 parameters.

and the same step: CE + 1e-4 * mean(logsumexp^2) (open_lm's z-loss), global-norm clip 1.0, AdamW
(0.9, 0.95, eps 1e-8, wd 0.033 on every parameter), batch x seq_len random tokens, no accumulation.
Attention is SDPA with is_causal (flash attention on a GPU).

Precision: `autocast` (default; bf16 autocast over f32 master weights, PyTorch's usual mixed precision),
`bf16` (every parameter and activation in bf16, what `lmrepro bench-shape --precision bf16` does:
burn 0.21 has no autocast) or `f32` (TF32 matmuls allowed).

    python3 torch_bench.py --shape gpt2-small [--batch 16] [--seq-len 1024] [--warmup 2] [--steps 20]
                           [--precision autocast|bf16|f32] [--peak-tflops 989.4] [--json OUT] [--device cuda]

Progress goes to stderr, one line per step; the result is one JSON object on stdout (and in --json) with
the same keys as the burn side: tokens_per_s, mfu, peak_memory_bytes, first_step_s, ...
"""
import argparse
import json
import math
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

SHAPES = {
    "gpt2-small": dict(arch="gpt2", d=768, layers=12, heads=12, vocab=50304),
    "openlm-411m": dict(arch="open_lm", d=1024, layers=24, heads=8, vocab=50432),
    "tiny": dict(arch="gpt2", d=32, layers=2, heads=2, vocab=512),
}


def swiglu_hidden(d):
    # open_lm: 256 * ceil(int(8 d / 3) / 256)
    return 256 * ((int(2 * 4 * d / 3) + 255) // 256)


class GainNorm(nn.Module):
    """open_lm's gain-only LayerNorm (no bias)."""

    def __init__(self, d):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return F.layer_norm(x, (x.shape[-1],), self.weight, None, 1e-5)


def rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, self.h, self.arch = c["d"], c["heads"], c["arch"]
        bias = self.arch == "gpt2"
        norm = (lambda: nn.LayerNorm(d, eps=1e-5)) if bias else (lambda: GainNorm(d))
        self.attention_norm, self.ffn_norm = norm(), norm()
        self.in_proj = nn.Linear(d, 3 * d, bias=bias)
        self.out_proj = nn.Linear(d, d, bias=bias)
        if self.arch == "open_lm":
            self.q_norm, self.k_norm = GainNorm(d), GainNorm(d)
            hidden = swiglu_hidden(d)
            self.w12 = nn.Linear(d, 2 * hidden, bias=False)
            self.w3 = nn.Linear(hidden, d, bias=False)
        else:
            self.w12 = nn.Linear(d, 4 * d, bias=True)
            self.w3 = nn.Linear(4 * d, d, bias=True)

    def forward(self, x, rope):
        b, t, d = x.shape
        q, k, v = self.in_proj(self.attention_norm(x)).chunk(3, dim=-1)
        if self.arch == "open_lm":
            q, k = self.q_norm(q), self.k_norm(k)
        q, k, v = (z.view(b, t, self.h, d // self.h).transpose(1, 2) for z in (q, k, v))
        if rope is not None:
            cos, sin = rope
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.out_proj(a.transpose(1, 2).reshape(b, t, d))
        y = self.w12(self.ffn_norm(x))
        if self.arch == "open_lm":
            g, u = y.chunk(2, dim=-1)
            y = F.silu(g) * u
        else:
            y = F.gelu(y)  # exact erf GELU, as burn's `gelu`
        return x + self.w3(y)


class Model(nn.Module):
    def __init__(self, c, seq_len):
        super().__init__()
        self.c, d = c, c["d"]
        self.tok_embeddings = nn.Embedding(c["vocab"], d)
        self.pos_embeddings = nn.Embedding(seq_len, d) if c["arch"] == "gpt2" else None
        self.layers = nn.ModuleList(Block(c) for _ in range(c["layers"]))
        self.norm = nn.LayerNorm(d, eps=1e-5) if c["arch"] == "gpt2" else GainNorm(d)
        self.output = nn.Linear(d, c["vocab"], bias=False)
        if c["arch"] == "open_lm":
            hd = d // c["heads"]
            inv = 1.0 / (10000 ** (torch.arange(0, hd, 2).float() / hd))
            f = torch.outer(torch.arange(seq_len, dtype=torch.float32), inv)
            emb = torch.cat((f, f), dim=-1)
            self.register_buffer("cos", emb.cos()[None, None], persistent=False)
            self.register_buffer("sin", emb.sin()[None, None], persistent=False)

    def forward(self, ids):
        x = self.tok_embeddings(ids)
        if self.pos_embeddings is not None:
            x = x + self.pos_embeddings(torch.arange(ids.shape[1], device=ids.device))
        t = ids.shape[1]
        rope = None
        if self.c["arch"] == "open_lm":
            rope = (self.cos[:, :, :t].to(x.dtype), self.sin[:, :, :t].to(x.dtype))
        for layer in self.layers:
            x = layer(x, rope)
        return self.output(self.norm(x))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--shape", choices=sorted(SHAPES), required=True)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seq-len", type=int, default=None)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--precision", choices=["autocast", "bf16", "f32"], default="autocast")
    p.add_argument("--peak-tflops", type=float, default=989.4)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--json", default=None)
    a = p.parse_args()

    c = SHAPES[a.shape]
    seq = a.seq_len or (64 if a.shape == "tiny" else 1024)
    dev = torch.device(a.device)
    cuda = dev.type == "cuda"
    torch.manual_seed(1)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    model = Model(c, seq).to(dev)
    if a.precision == "bf16":
        model = model.to(torch.bfloat16)
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.95), eps=1e-8,
                            weight_decay=0.033, **({"fused": True} if cuda else {}))
    gen = torch.Generator(device="cpu").manual_seed(1)
    batches = [torch.randint(0, c["vocab"], (a.batch, seq + 1), generator=gen).to(dev) for _ in range(4)]
    print(f"torch: {a.shape} {n_params} parameters, batch {a.batch} x {seq}, {a.precision}, "
          f"torch {torch.__version__} on {torch.cuda.get_device_name(dev) if cuda else 'cpu'}",
          file=sys.stderr, flush=True)

    def step(i):
        toks = batches[i % len(batches)]
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=a.precision == "autocast"):
            logits = model(toks[:, :-1]).float().view(-1, c["vocab"])
        target = toks[:, 1:].reshape(-1)
        lse = torch.logsumexp(logits, dim=-1)
        loss = F.cross_entropy(logits, target) + 1e-4 * (lse ** 2).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()  # reads back: synchronises like the burn side

    sync = torch.cuda.synchronize if cuda else (lambda: None)
    total = 1 + a.warmup + a.steps
    losses = []
    t0 = time.perf_counter()
    losses.append(step(0))
    sync()
    first = time.perf_counter() - t0
    print(f"torch: step 1/{total} done in {first:.2f}s, loss {losses[-1]:.4f}", file=sys.stderr, flush=True)
    timed = time.perf_counter()
    for i in range(1, total):
        if i == 1 + a.warmup:
            sync()
            timed = time.perf_counter()
        t = time.perf_counter()
        losses.append(step(i))
        kind = "warm-up" if i < 1 + a.warmup else "timed"
        print(f"torch: step {i + 1}/{total} ({kind}) {time.perf_counter() - t:.3f}s, loss {losses[-1]:.4f}",
              file=sys.stderr, flush=True)
    sync()
    per_step = (time.perf_counter() - timed) / max(a.steps, 1)
    tokens_per_s = a.batch * seq / per_step
    flops_per_token = 6 * n_params + 12 * c["layers"] * c["d"] * seq
    tflops = tokens_per_s * flops_per_token / 1e12
    r = dict(side="torch", shape=a.shape, device=a.device,
             adapter=torch.cuda.get_device_name(dev) if cuda else "cpu", torch=torch.__version__,
             params=n_params, batch=a.batch, seq_len=seq, precision=a.precision, first_step_s=first,
             warmup_steps=a.warmup, timed_steps=a.steps, step_s=per_step, tokens_per_s=tokens_per_s,
             flops_per_token=float(flops_per_token), model_tflops=tflops, peak_tflops=a.peak_tflops,
             mfu=tflops / a.peak_tflops,
             peak_memory_bytes=torch.cuda.max_memory_reserved(dev) if cuda else 0,
             peak_memory_what="torch.cuda.max_memory_reserved" if cuda else "not measured on cpu",
             losses=losses)
    text = json.dumps(r)
    if a.json:
        with open(a.json, "w") as f:
            f.write(json.dumps(r, indent=2) + "\n")
    print(text)


if __name__ == "__main__":
    main()
