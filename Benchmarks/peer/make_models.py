#!/usr/bin/env python3
"""Random "small" benchmark models of the five encoder families, for Benchmarks/peer.sh.

Writes Benchmarks/.peer-cache/models/<family>-small/ for xlm-roberta, nomic-bert, gte, modernbert
and gemma3-bidirectional: a Hugging Face Hub-layout folder (what `longembed` reads; check with
`longembed models DIR`) plus `native_config.json`, the config transformers 5.x builds its own
class from (the folder's config.json keeps the Hub keys, which transformers cannot load for
NomicBERT and GTE). Both engines read the same fp32 safetensors.

The models are the fixture families of scripts/fixtures/encoders.py (the same transformers
classes, Hub conventions, tokenizers, random-weight procedure, save code and reload check), at
benchmark size:

  every family   hidden 384, 6 layers, 6 heads of 64, trained context 8192 (no extension at 8192)
  xlm-roberta    FFN 1536, max_position_embeddings 8194 (rows 2..8193), trimmed 8001-piece vocab
  nomic-bert     SwiGLU FFN 1024, max_trained_positions 8192, rotary base 1000
  gte            GLU FFN 1024, max_position_embeddings 8192, rope_theta 500000 with NTK factor 2
  modernbert     GeGLU FFN 1024, local_attention 128 (|i-j| <= 64), global every 3rd layer (0, 3)
  gemma3-bidir.  GeGLU FFN 1024, 6 query / 2 key-value heads of 64, query_pre_attn_scalar 64,
                 sliding_window 512 (|i-j| <= 256), layers 5 sliding + 1 full, Dense 384->1536->384

and one decoder (scripts/fixtures/decoders.py's class, causal, last-token pooling):

  qwen3          Qwen3-Embedding-0.6B's layer: hidden 1024, 8 query / 4 key-value heads of 128,
                 q/k RMSNorm, SwiGLU FFN 3072, tied embeddings; 2 layers; max_position_embeddings
                 32768; matrix deviations STD_QK 0.05, STD_LINEAR 0.03 (width 1024)

RoPE families: max_position_embeddings 8192 and sentence_bert_config max_seq_length 8192.

Weights: encoders.randomize() (every parameter drawn, seeded), with the matrix deviations scaled
for width 384 (STD_QK 0.08, STD_LINEAR 0.05 instead of the fixtures' 0.25 / 0.1, which at this
width would saturate every softmax); seeds 20261204 + 100 + k.

Needs .cache/tokenizers/xlm-roberta/tokenizer.json (`make setup`). Usage (repository root; a venv
with torch, transformers, tokenizers, safetensors, numpy: Benchmarks/.venv-peer or the fixture venv):
  bash Benchmarks/peer.sh --make-models [--family NAME ...] [--force]
  scripts/fixtures/.venv-fixtures/bin/python Benchmarks/peer/make_models.py [--family NAME ...] [--force]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
FIXTURE_SCRIPTS = os.path.join(REPO, "scripts", "fixtures")
DEFAULT_OUT = os.path.join(REPO, "Benchmarks", ".peer-cache", "models")

import tokenizers  # noqa: E402,F401  (before scripts/fixtures joins sys.path: its tokenizers.py would shadow it)

sys.path.insert(0, FIXTURE_SCRIPTS)
import encoders as E  # noqa: E402

import torch  # noqa: E402

try:
    import sentence_transformers  # noqa: F401
except ImportError:  # Benchmarks/.venv-peer has no sentence-transformers: the files' version block says so
    def _st_version_block():
        import transformers
        return {"sentence_transformers": None, "transformers": transformers.__version__,
                "pytorch": torch.__version__.split("+")[0]}
    E.st_version_block = _st_version_block


def versions():
    import platform
    import safetensors
    import transformers
    return {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__, "safetensors": safetensors.__version__}


CONTEXT = 8192
H, LAYERS, HEADS, FFN, GATED_FFN = 384, 6, 6, 1536, 1024
SEED = E.BASE_SEED + 100


class XLMRSmall(E.XLMR):
    lo = CONTEXT
    seed = SEED + 1
    H, LAYERS, HEADS, INTER = H, LAYERS, HEADS, FFN


class NomicSmall(E.Nomic):
    lo = CONTEXT
    seed = SEED + 2
    H, LAYERS, HEADS, INTER = H, LAYERS, HEADS, GATED_FFN


class GteSmall(E.Gte):
    lo = CONTEXT
    seed = SEED + 3
    H, LAYERS, HEADS, INTER = H, LAYERS, HEADS, GATED_FFN


class ModernBertSmall(E.ModernBert):
    lo = CONTEXT
    seed = SEED + 4
    H, LAYERS, HEADS, INTER = H, LAYERS, HEADS, GATED_FFN
    LOCAL_ATTENTION, EVERY = 128, 3


class GemmaSmall(E.Gemma):
    lo = CONTEXT
    seed = SEED + 5
    H, LAYERS, HEADS, KV, HEAD_DIM, INTER = H, LAYERS, HEADS, 2, 64, GATED_FFN
    WINDOW, QSCALAR = 512, 64
    LAYER_TYPES = ["sliding_attention"] * 5 + ["full_attention"]

    def hub_config(self):
        c = super().hub_config()
        c["_sliding_window_pattern"] = 6
        return c

    def save_model(self, model, model_dir, tmp):
        # The fixture shards at 1 MB (tiny tensors); here: the embedding table alone, then the rest.
        save = model.save_pretrained
        model.save_pretrained = lambda d, **kw: save(d, **dict(kw, max_shard_size="40MB"))
        try:
            super().save_model(model, model_dir, tmp)
        finally:
            del model.save_pretrained


def describe(model_dir, longembed):
    """`longembed models` on a folder just written (skipped when the binary is absent); a failure stops."""
    if longembed and os.path.exists(longembed):
        out = subprocess.run([longembed, "models", model_dir], capture_output=True, text=True)
        print(out.stdout + out.stderr, flush=True)
        if out.returncode != 0:
            raise SystemExit(f"`longembed models {model_dir}` failed")


SMALL = {c.name: c for c in (XLMRSmall, NomicSmall, GteSmall, ModernBertSmall, GemmaSmall)}

# Decoder families: scripts/fixtures/decoders.py's classes, whose sizes are module constants there.
import decoders as D  # noqa: E402

DECODER_SIZES = {"H": 1024, "LAYERS": 2, "HEADS": 8, "KV": 4, "INTER": 3072, "LO": 32768,
                 "STD_QK": 0.05, "STD_LINEAR": 0.03}


class Qwen3Small(D.Qwen3):
    """Qwen3-Embedding-0.6B's layer (hidden 1024, 8 query / 4 key-value heads of 128 with q/k RMSNorm,
    SwiGLU 3072, tied embeddings), 2 layers, trained context 32768 (no extension at 32768)."""
    name = "qwen3"
    seed = SEED + 6
    head_dim = 128


DECODERS = {"qwen3": Qwen3Small}


class decoder_sizes:
    """decoders.py's module constants set to the benchmark sizes while a model is built and saved."""

    def __enter__(self):
        self.saved = {k: getattr(D, k) for k in DECODER_SIZES}
        for k, v in DECODER_SIZES.items():
            setattr(D, k, v)

    def __exit__(self, *exc):
        for k, v in self.saved.items():
            setattr(D, k, v)


def check_decoder_reload(model, work, native, report):
    """transformers' AutoModel on the folder (through the native config): exactly these weights."""
    from transformers import AutoConfig, AutoModel
    config = AutoConfig.from_pretrained(os.path.join(work, "native_config.json"))
    loaded = AutoModel.from_pretrained(work, config=config, dtype=torch.float32)
    ref, got = model.state_dict(), loaded.state_dict()
    if set(ref) != set(got):
        raise RuntimeError(f"reload: keys differ {set(ref) ^ set(got)}")
    report["reload"] = {"max_abs_weight_diff": max(float((ref[k] - got[k]).abs().max()) for k in ref),
                        "class": type(loaded).__name__}
    if report["reload"]["max_abs_weight_diff"] != 0.0:
        raise RuntimeError(f"reload: {report['reload']}")


def make_decoder(name, out_root, longembed):
    model_dir = os.path.join(out_root, f"{name}-small")
    work = model_dir + ".tmp"
    if os.path.exists(work):
        shutil.rmtree(work)
    os.makedirs(work)
    with decoder_sizes(), tempfile.TemporaryDirectory(prefix=f"peer-models-{name}-") as tmp:
        fam = DECODERS[name]()
        model = fam.build()
        fam.save_model(model, work, tmp)
        E.write_json(os.path.join(work, "native_config.json"), fam.saved_native_config)
        report = {"parameters": sum(p.numel() for p in model.parameters()), "seed": fam.seed,
                  "transformers_class": type(model).__name__, "sizes": DECODER_SIZES, "versions": versions()}
        check_decoder_reload(model, work, fam.saved_native_config, report)
        E.write_json(os.path.join(work, "peer_model.json"), report)
    if os.path.exists(model_dir):
        shutil.rmtree(model_dir)
    os.replace(work, model_dir)
    print(f"== {name}: {model_dir}  ({report['transformers_class']}, {report['parameters']:,} parameters)", flush=True)
    describe(model_dir, longembed)
    return model_dir


def make(name, out_root, longembed):
    fam = SMALL[name]()
    model_dir = os.path.join(out_root, f"{name}-small")
    with tempfile.TemporaryDirectory(prefix=f"peer-models-{name}-") as tmp:
        work = model_dir + ".tmp"
        if os.path.exists(work):
            shutil.rmtree(work)
        os.makedirs(work)
        model = fam.build()
        fam.save_model(model, work, tmp)
        native = getattr(fam, "saved_native_config", None) or E.C.read_json(os.path.join(work, "config.json"))
        E.write_json(os.path.join(work, "native_config.json"), native)
        # transformers reloads the folder (through the native config) to exactly these weights;
        # the Hub-named tensors equal the native ones through the family's weight map.
        report = {}
        E.check_weights_roundtrip(fam, model, work, tmp, report)
        report["parameters"] = sum(p.numel() for p in model.parameters())
        report["seed"] = fam.seed
        report["transformers_class"] = type(model).__name__
        report["versions"] = versions()
        E.write_json(os.path.join(work, "peer_model.json"), report)
        for root, _, files in os.walk(work):
            for f in files:
                os.chmod(os.path.join(root, f), 0o644)
        if os.path.exists(model_dir):
            shutil.rmtree(model_dir)
        os.replace(work, model_dir)
    print(f"== {name}: {model_dir}  ({report['transformers_class']}, {report['parameters']:,} parameters, "
          f"reload max |diff| {report['reload']['max_abs_weight_diff']})", flush=True)
    describe(model_dir, longembed)
    return model_dir


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", action="append", choices=sorted(SMALL) + sorted(DECODERS),
                    help="only these (repeatable; default all)")
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--force", action="store_true", help="rebuild folders that already exist")
    ap.add_argument("--longembed", default=os.path.join(REPO, ".build", "release", "longembed"),
                    help="run `longembed models` on each folder written (skipped when absent)")
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    from transformers.utils import logging as hf_logging
    hf_logging.disable_progress_bar()
    # Wider than the fixtures: deviations that keep logits and activations O(1) at width 384.
    E.STD_QK = 0.08
    E.STD_LINEAR = 0.05
    os.makedirs(args.out, exist_ok=True)
    for name in args.family or list(SMALL) + list(DECODERS):
        d = os.path.join(args.out, f"{name}-small")
        if os.path.exists(os.path.join(d, "peer_model.json")) and not args.force:
            print(f"== {name}: {d} exists (--force rebuilds)", flush=True)
            continue
        if name in DECODERS:
            make_decoder(name, args.out, args.longembed)
        else:
            make(name, args.out, args.longembed)


if __name__ == "__main__":
    main()
