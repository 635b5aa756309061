"""C++ fastText (PyPI fasttext-wheel 0.9.2) side of the classifier parity check.

Usage:
  python fasttext_reference.py train <train.txt> <model.bin>          # DCLM settings, thread=1
  python fasttext_reference.py predict <model.bin> <docs.jsonl> <out.jsonl>
      # DCLM preprocessing, writes {"label", "prob", "score"} per input line, prints docs/s

The numpy-2 incompatible wrapper `model.predict` is bypassed through `model.f.predict`, which is
what it calls (text + "\\n", k=1, threshold=0).
"""
import json, sys, time
import fasttext


def preprocess(text):
    return " ".join(text.strip().splitlines())


def main():
    if sys.argv[1] == "train":
        t = time.time()
        m = fasttext.train_supervised(input=sys.argv[2], lr=0.1, dim=100, ws=5, epoch=5, minCount=1,
                                      wordNgrams=2, thread=1, verbose=0)
        m.save_model(sys.argv[3])
        print(json.dumps({"train_seconds": time.time() - t}))
    else:
        m = fasttext.load_model(sys.argv[2])
        texts = [preprocess(json.loads(l)["text"]) for l in open(sys.argv[3])]
        t = time.time()
        preds = [m.f.predict(x + "\n", 1, 0.0, "strict") for x in texts]
        dt = time.time() - t
        with open(sys.argv[4], "w") as f:
            for p in preds:
                prob, label = p[0] if p else (0.0, "")
                score = 1 - prob if label == "__label__cc" else prob
                f.write(json.dumps({"label": label, "prob": prob, "score": score}) + "\n")
        print(json.dumps({"docs": len(texts), "seconds": dt, "docs_per_s": len(texts) / dt}))


if __name__ == "__main__":
    main()
