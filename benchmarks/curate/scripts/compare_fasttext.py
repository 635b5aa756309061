"""Classifier parity: Rust (fasttext crate) vs C++ fastText (fasttext-wheel), on DCLM's 780
labelled CC texts. Usage: python compare_fasttext.py <ft work dir>"""
import io, json, os, sys
import zstandard


def stage_scores(d):
    out = []
    for name in sorted(os.listdir(d)):
        if name.endswith(".jsonl.zst"):
            r = zstandard.ZstdDecompressor().stream_reader(open(os.path.join(d, name), "rb"))
            out += [json.loads(l)["fasttext_hq_prob"] for l in io.TextIOWrapper(r, encoding="utf-8")]
    return out


def auc(scores, labels):
    pos = [s for s, l in zip(scores, labels) if l]
    neg = [s for s, l in zip(scores, labels) if not l]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def main():
    w = sys.argv[1]
    labels = [json.loads(l)["label"] == 1 for l in open(f"{w}/labelled.jsonl")]
    res = {}
    for m in ["rust", "cpp"]:
        rust_inf = stage_scores(f"{w}/pred_{m}")
        cpp_inf = [json.loads(l)["score"] for l in open(f"{w}/cpp_pred_{m}.jsonl")]
        res[f"{m}_model_inference_rust_vs_cpp"] = {
            "max_abs_dp": max(abs(a - b) for a, b in zip(rust_inf, cpp_inf)),
            "top1_agreement": sum((a >= 0.5) == (b >= 0.5) for a, b in zip(rust_inf, cpp_inf)) / len(cpp_inf),
            "auc_rust": auc(rust_inf, labels), "auc_cpp": auc(cpp_inf, labels)}
    r = [json.loads(l)["score"] for l in open(f"{w}/cpp_pred_rust.jsonl")]
    c = [json.loads(l)["score"] for l in open(f"{w}/cpp_pred_cpp.jsonl")]
    res["rust_trained_vs_cpp_trained"] = {
        "max_abs_dp": max(abs(a - b) for a, b in zip(r, c)),
        "mean_abs_dp": sum(abs(a - b) for a, b in zip(r, c)) / len(c),
        "top1_agreement": sum((a >= 0.5) == (b >= 0.5) for a, b in zip(r, c)) / len(c)}
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
