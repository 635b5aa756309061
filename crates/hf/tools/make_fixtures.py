#!/usr/bin/env python3
"""Parity fixtures for lmrepro-hf (issue 15): tiny random models saved by the reference code.

Writes, under OUT (default crates/hf/tests/fixtures):
  tokenizer.json                  a byte-level BPE (vocab 384) trained here on SENTENCES
  <arch>/config.json, model.safetensors, tokenizer.json
                                  gpt_neox, llama, bloom, gpt2 via transformers' own classes;
                                  open_lm via mlfoundations/open_lm's `Transformer` (torch_attn,
                                  swiglu_torch), saved in DCLM's released HF layout
                                  (OpenLMConfig keys = open_lm Params fields, tensors under `model.`)
  <arch>/reference.safetensors    ids.<i> (int64) per INPUTS line, logits.<i> (f32 [t, vocab])
                                  for the first LOGIT_INPUTS lines
  inputs.jsonl                    the fixed texts ({"text": ...})
  <arch>/score.jsonl              what `lmrepro score` must print (ids, log-prob of each next token)

Weights are redrawn (matrices N(0, 0.2^2), norm gains 1 + N(0, 0.1^2), biases N(0, 0.1^2)) so
that every tensor, norms and biases included, moves the logits: a mis-mapped tensor cannot hide.

Modes:
  make_fixtures.py [OUT]                    the committed fixtures
  make_fixtures.py --other OUT              other sizes / head counts / GQA ratios / rotary
                                            fractions (the "any tiny model" check; not committed)
  make_fixtures.py --icl REQ.json OUT.json  llm-foundry scoring of pre-tokenized ICL requests
  make_fixtures.py --export-check DIR...    load exported folders with transformers, print logits
  make_fixtures.py --bench DIR IN.jsonl     transformers CPU throughput on the `score` inputs
  make_fixtures.py --bench-model TOKENIZER.json OUT
                                            a Pythia-160M-shaped random GPT-NeoX (d 768, 12 layers,
                                            12 heads, rotary 0.25, vocab 50304) for the benchmark

Environment (recorded in crates/hf/tools/README.md): /work/venv-hf, CPython 3.11.7,
torch 2.15.0, transformers 5.25.0, safetensors 0.8.0, tokenizers 0.23.3, numpy 2.4.6;
open_lm at mlfoundations/open_lm 9bb92ef1689333534b7057942a20d18a46d1fa52 on PYTHONPATH with a
stub `xformers` package (open_lm imports it unconditionally; the CPU paths used never call it).
"""
import json
import os
import shutil
import sys
import time

import torch
from safetensors.torch import save_file

torch.set_grad_enabled(False)

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "A language model assigns probabilities to sequences of words.",
    "Question: What is the capital of France? Answer: Paris",
    "She sells sea shells by the sea shore, and the shells she sells are surely sea shells.",
    "In 1492, Columbus sailed the ocean blue.",
    "To be, or not to be, that is the question.",
    "The mitochondria is the powerhouse of the cell.",
    "Water boils at 100 degrees Celsius at sea level.",
    "He opened the door, looked outside, and closed it again.",
    "Numbers like 3.14159 and 2.71828 appear everywhere in mathematics.",
    "Context: The man went to the store. Continuation: He bought some milk and bread.",
    "unicode: café, naïve, Zürich, 東京, emoji 🙂",
]
INPUTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Question: What is the capital of Germany? Answer: Berlin",
    "A model of language, trained on the sea shore, sells shells in 1492.",
    "unicode café 東京 🙂 and numbers 42, 3.5",
    "x",
    "The door is open. The door is closed. The door is open. The door is closed again and again.",
]

LOGIT_INPUTS = 3


def make_tokenizer(path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=384,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(SENTENCES * 4, trainer)
    tok.save(path)
    return tok


def redraw(model, seed):
    g = torch.Generator().manual_seed(seed)
    for name, p in sorted(model.named_parameters()):
        if p.dim() >= 2:
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
        elif name.endswith("bias"):
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
        else:
            p.copy_(1.0 + torch.randn(p.shape, generator=g) * 0.1)


def hf_model(arch, vocab, shape):
    import transformers as T

    if arch == "gpt_neox":
        cfg = T.GPTNeoXConfig(
            vocab_size=vocab, hidden_size=shape["d"], num_hidden_layers=shape["layers"],
            num_attention_heads=shape["heads"], intermediate_size=shape["ffn"],
            max_position_embeddings=2048, use_parallel_residual=shape.get("parallel", True),
            hidden_act=shape.get("act", "gelu"), tie_word_embeddings=False,
            attention_dropout=0.0, hidden_dropout=0.0,
            rope_parameters={"rope_type": "default", "rope_theta": shape.get("base", 10000.0),
                             "partial_rotary_factor": shape["rotary"]},
        )
        return T.GPTNeoXForCausalLM(cfg)
    if arch == "llama":
        cfg = T.LlamaConfig(
            vocab_size=vocab, hidden_size=shape["d"], num_hidden_layers=shape["layers"],
            num_attention_heads=shape["heads"], num_key_value_heads=shape["kv"],
            intermediate_size=shape["ffn"], max_position_embeddings=2048,
            rms_norm_eps=1e-6, tie_word_embeddings=shape.get("tied", False),
            rope_parameters={"rope_type": "default", "rope_theta": shape.get("base", 10000.0)},
            bos_token_id=0, eos_token_id=0, pad_token_id=None,
        )
        return T.LlamaForCausalLM(cfg)
    if arch == "bloom":
        cfg = T.BloomConfig(
            vocab_size=vocab, hidden_size=shape["d"], n_layer=shape["layers"],
            n_head=shape["heads"], layer_norm_epsilon=1e-5,
            hidden_dropout=0.0, attention_dropout=0.0, bos_token_id=0, eos_token_id=0,
        )
        return T.BloomForCausalLM(cfg)
    if arch == "gpt2":
        cfg = T.GPT2Config(
            vocab_size=vocab, n_positions=512, n_embd=shape["d"], n_layer=shape["layers"],
            n_head=shape["heads"], activation_function=shape.get("act", "gelu_new"),
            resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0,
        )
        return T.GPT2LMHeadModel(cfg)
    raise ValueError(arch)


def open_lm_model(vocab, shape):
    """open_lm's own Transformer, wrapped so save/forward look like OpenLMForCausalLM."""
    from open_lm.model import Params, Transformer
    from open_lm.norms import get_norm_class
    from open_lm.attention import get_attn_func

    norm = shape.get("norm", "gain_only_lp_layer_norm")
    keys = dict(
        dim=shape["d"], n_layers=shape["layers"], n_heads=shape["heads"], vocab_size=vocab,
        norm_eps=1e-5, seq_len=2048, post_embed_norm=shape.get("post_embed_norm", False),
        weight_tying=False, apply_qk_norm=shape.get("qk", True),
        positional_embedding_type="rotary", ffn_type="swiglu_torch",
    )
    params = Params(**keys, norm_type=get_norm_class(norm), attn_func=get_attn_func("torch_attn"))
    model = Transformer(params)
    model.reset_parameters()
    # OpenLMConfig: the Params fields plus norm_type / attn_name, as DCLM's released config.json.
    config = dict(keys, norm_type=norm, attn_name="torch_attn", model_type="openlm",
                  architectures=["OpenLMForCausalLM"], moe_freq=0, torch_dtype="float32",
                  qk_norm=keys["apply_qk_norm"])
    return model, config


def logits_of(arch, model, ids):
    x = torch.tensor([ids], dtype=torch.long)
    if arch == "open_lm":
        return model(x)[0][0].float()
    return model(input_ids=x).logits[0].float()


def save_arch(arch, out, tok_path, shape, seed):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(tok_path)
    vocab = tok.get_vocab_size()
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(seed)
    if arch == "open_lm":
        model, config = open_lm_model(vocab, shape)
        model.eval()
        redraw(model, seed)
        sd = {f"model.{k}": v.contiguous() for k, v in model.state_dict().items()}
        save_file(sd, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
        with open(os.path.join(out, "config.json"), "w") as f:
            json.dump(config, f, indent=2, sort_keys=True)
    else:
        model = hf_model(arch, vocab, shape).float().eval()
        redraw(model, seed)
        model.save_pretrained(out)
    shutil.copy(tok_path, os.path.join(out, "tokenizer.json"))
    ref, lines = {}, []
    for i, text in enumerate(INPUTS):
        ids = tok.encode(text, add_special_tokens=False).ids
        lg = logits_of(arch, model, ids)
        ref[f"ids.{i}"] = torch.tensor(ids, dtype=torch.int64)
        if i < LOGIT_INPUTS:  # full logits for the first few (size); log-probs for all
            ref[f"logits.{i}"] = lg.contiguous()
        lp = torch.log_softmax(lg, dim=-1)
        lps = [lp[t, ids[t + 1]].item() for t in range(len(ids) - 1)]
        lines.append(json.dumps({"ids": ids, "logprobs": lps}))
    save_file(ref, os.path.join(out, "reference.safetensors"))
    with open(os.path.join(out, "score.jsonl"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return model


FIXTURES = {
    "gpt_neox": dict(d=32, layers=2, heads=4, ffn=80, rotary=0.5),
    "llama": dict(d=32, layers=2, heads=4, kv=2, ffn=48),
    "bloom": dict(d=32, layers=2, heads=4),
    "gpt2": dict(d=32, layers=2, heads=4),
    "open_lm": dict(d=32, layers=2, heads=4),
}

# The "any tiny model" check: shapes none of the fixtures have.
OTHER = {
    "gpt_neox_a": ("gpt_neox", dict(d=48, layers=3, heads=6, ffn=100, rotary=0.25)),
    "gpt_neox_b": ("gpt_neox", dict(d=64, layers=1, heads=2, ffn=64, rotary=1.0, parallel=False,
                                    act="gelu_new", base=500.0)),
    "llama_a": ("llama", dict(d=48, layers=3, heads=6, kv=3, ffn=96)),
    "llama_b": ("llama", dict(d=64, layers=2, heads=8, kv=1, ffn=40, tied=True, base=1e6)),
    "llama_c": ("llama", dict(d=40, layers=2, heads=5, kv=5, ffn=72)),
    "bloom_a": ("bloom", dict(d=48, layers=3, heads=6)),
    "bloom_b": ("bloom", dict(d=60, layers=2, heads=12)),
    "gpt2_a": ("gpt2", dict(d=48, layers=3, heads=3, act="gelu")),
    "gpt2_b": ("gpt2", dict(d=64, layers=1, heads=16)),
    "open_lm_a": ("open_lm", dict(d=48, layers=3, heads=6, qk=False)),
    "open_lm_b": ("open_lm", dict(d=64, layers=2, heads=2, norm="default_layer_norm",
                                  post_embed_norm=True)),
}


def main():
    args = sys.argv[1:]
    if args and args[0] == "--icl":
        return icl(args[1], args[2])
    if args and args[0] == "--export-check":
        return export_check(args[1:])
    if args and args[0] == "--bench":
        return bench(args[1], args[2])
    if args and args[0] == "--bench-model":
        return bench_model(args[1], args[2])
    other = bool(args and args[0] == "--other")
    if other:
        args = args[1:]
    out = args[0] if args else os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures")
    os.makedirs(out, exist_ok=True)
    tok_path = os.path.join(out, "tokenizer.json")
    make_tokenizer(tok_path)
    with open(os.path.join(out, "inputs.jsonl"), "w") as f:
        for t in INPUTS:
            f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
    table = {k: v for k, v in OTHER.items()} if other else {k: (k, v) for k, v in FIXTURES.items()}
    for seed, (name, (arch, shape)) in enumerate(sorted(table.items())):
        save_arch(arch, os.path.join(out, name), tok_path, shape, 1000 + seed)
        print("wrote", name)


def icl(req_path, out_path):
    """llm-foundry v0.9.0 scoring of pre-tokenized requests, per item:
    multiple choice: the option with the lowest mean cross-entropy over its continuation wins
    (`InContextLearningMultipleChoiceAccuracy`, ties to the first); language modelling: correct
    iff every continuation token is the argmax (`InContextLearningLMAccuracy`)."""
    reqs = json.load(open(req_path))
    models = {}
    out = {}
    for arch in sorted({r["model"] for r in reqs}):
        models[arch] = load_any(reqs_dir(req_path, arch))
    for r in reqs:
        model, arch = models[r["model"]], r["arch"]
        per = []
        for ctx, cont in r["options"]:
            ids = ctx + cont
            lg = logits_of(arch, model, ids[:-1])
            lp = torch.log_softmax(lg, dim=-1)
            pos = range(len(ctx) - 1, len(ids) - 1)
            tok_lp = [lp[p, ids[p + 1]].item() for p in pos]
            greedy = all(lg[p].argmax().item() == ids[p + 1] for p in pos)
            per.append({"mean_logprob": sum(tok_lp) / len(tok_lp), "greedy": greedy})
        if r["kind"] == "lm":
            correct = per[0]["greedy"]
        else:
            scores = [p["mean_logprob"] for p in per]
            correct = scores.index(max(scores)) == r["gold"]
        out.setdefault(r["model"], []).append(
            {"task": r["task"], "item": r["item"], "correct": correct,
             "mean_logprobs": [p["mean_logprob"] for p in per]})
    with open(out_path, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)


def reqs_dir(req_path, name):
    return os.path.join(os.path.dirname(req_path), name)


def load_any(d):
    """A folder in either format: transformers' Auto classes, or open_lm's layout."""
    cfg = json.load(open(os.path.join(d, "config.json")))
    if cfg.get("model_type") == "openlm":
        from safetensors.torch import load_file
        shape = dict(d=cfg["dim"], layers=cfg["n_layers"], heads=cfg["n_heads"],
                     qk=cfg["apply_qk_norm"], norm=cfg["norm_type"],
                     post_embed_norm=cfg["post_embed_norm"])
        model, _ = open_lm_model(cfg["vocab_size"], shape)
        sd = {k[len("model."):]: v for k, v in load_file(os.path.join(d, "model.safetensors")).items()}
        model.load_state_dict(sd, strict=False)
        return model.eval()
    import transformers as T
    return T.AutoModelForCausalLM.from_pretrained(d, torch_dtype=torch.float32).eval()


def export_check(dirs):
    """Loads exported folders with transformers and prints max |logit - reference|."""
    for d in dirs:
        model = load_any(d)
        ids = json.load(open(os.path.join(d, "expected.json")))
        arch = "open_lm" if json.load(open(os.path.join(d, "config.json")))["model_type"] == "openlm" else "hf"
        lg = logits_of(arch, model, ids["ids"])
        want = torch.tensor(ids["logits"]).reshape(lg.shape)
        print(d, type(model).__name__, "max |Δ logit| =", (lg - want).abs().max().item())


def bench_model(tok_path, out):
    shape = dict(d=768, layers=12, heads=12, ffn=3072, rotary=0.25)
    torch.manual_seed(0)
    model = hf_model("gpt_neox", 50304, shape).float().eval()
    model.save_pretrained(out)
    shutil.copy(tok_path, os.path.join(out, "tokenizer.json"))


def bench(d, inputs):
    """transformers CPU throughput on the same texts `lmrepro score` reads (one at a time)."""
    from tokenizers import Tokenizer
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
    tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    model = load_any(d)
    arch = "open_lm" if json.load(open(os.path.join(d, "config.json")))["model_type"] == "openlm" else "hf"
    texts = [json.loads(l)["text"] for l in open(inputs) if l.strip()]
    start = time.perf_counter()
    n_tok = 0
    for t in texts:
        ids = tok.encode(t, add_special_tokens=False).ids
        lg = logits_of(arch, model, ids[:-1])
        lp = torch.log_softmax(lg, dim=-1)
        _ = lp.gather(1, torch.tensor(ids[1:]).unsqueeze(1))
        n_tok += len(ids)
    s = time.perf_counter() - start
    print(json.dumps({"items": len(texts), "tokens": n_tok, "seconds": s,
                      "items_per_s": len(texts) / s, "tokens_per_s": n_tok / s}))


if __name__ == "__main__":
    main()
