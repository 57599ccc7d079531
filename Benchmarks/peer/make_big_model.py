#!/usr/bin/env python3
"""A model folder of E5-Mistral-7B's shape with random bf16 weights, for memory and per-layer
speed measurements of 7B decoders (`longembed bench encoder --model DIR --profile`).

Shape (intfloat/e5-mistral-7b-instruct's config.json): MistralModel, hidden 4096, 32 layers,
32 query / 8 key-value heads of 128, SwiGLU FFN 14336, vocab 32000, RMSNorm eps 1e-5, rope_theta
10000, sliding_window 4096, max_position_embeddings 32768: 7,110,660,096 parameters, 14.2 GB in
bf16. The tokenizer is Llama-2's (Tests/Fixtures/tokenizers/llama2/tokenizer.json: the same
32000-piece SentencePiece size and special ids as Mistral's), with E5-Mistral's tokenizer_config
(add_eos_token) and sentence-transformers files (last-token pooling, Normalize).

Weights: every matrix normal(0, std) with std = 1 / sqrt(in_features) (activations stay O(1)
through 32 layers), norm weights 1, drawn per tensor from a seeded torch generator in fp32 and
rounded to bf16, written shard by shard (about 2 GB each) with a model.safetensors.index.json: the
generator never holds more than one shard. Needs about 15 GB of disk and a few minutes.

--layers N writes the same shape with N layers (per-layer rates without the 14 GB).

Usage (repository root, a venv with torch and safetensors):
  scripts/fixtures/.venv-fixtures/bin/python Benchmarks/peer/make_big_model.py [--out DIR] [--layers N]
"""

import argparse
import json
import os
import shutil

import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
TOKENIZER = os.path.join(REPO, "Tests", "Fixtures", "tokenizers", "llama2", "tokenizer.json")
H, LAYERS, HEADS, KV, D, INTER, VOCAB = 4096, 32, 32, 8, 128, 14336, 32000
SHARD_BYTES = 2 << 30
SEED = 20261207


def config(layers):
    return {"architectures": ["MistralModel"], "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": 2,
            "hidden_act": "silu", "hidden_size": H, "initializer_range": 0.02, "intermediate_size": INTER,
            "max_position_embeddings": 32768, "model_type": "mistral", "num_attention_heads": HEADS,
            "num_hidden_layers": layers, "num_key_value_heads": KV, "pad_token_id": 2, "rms_norm_eps": 1e-05,
            "rope_theta": 10000.0, "sliding_window": 4096, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
            "transformers_version": "4.34.0", "use_cache": False, "vocab_size": VOCAB}


def tensors(layers):
    """(name, shape) in checkpoint order; 1-D shapes are norm weights."""
    yield "embed_tokens.weight", (VOCAB, H)
    for i in range(layers):
        p = f"layers.{i}."
        yield p + "input_layernorm.weight", (H,)
        yield p + "self_attn.q_proj.weight", (HEADS * D, H)
        yield p + "self_attn.k_proj.weight", (KV * D, H)
        yield p + "self_attn.v_proj.weight", (KV * D, H)
        yield p + "self_attn.o_proj.weight", (H, HEADS * D)
        yield p + "post_attention_layernorm.weight", (H,)
        yield p + "mlp.gate_proj.weight", (INTER, H)
        yield p + "mlp.up_proj.weight", (INTER, H)
        yield p + "mlp.down_proj.weight", (H, INTER)
    yield "norm.weight", (H,)


def write_weights(out, layers):
    g = torch.Generator().manual_seed(SEED)
    shard, size, shards, weight_map, total = {}, 0, [], {}, 0

    def flush():
        nonlocal shard, size
        name = f"model-{len(shards) + 1:05d}.safetensors"
        save_file(shard, os.path.join(out, name), metadata={"format": "pt"})
        shards.append((name, list(shard)))
        print(f"  {name}: {len(shard)} tensors, {size / 2**30:.2f} GiB", flush=True)
        shard, size = {}, 0

    for name, shape in tensors(layers):
        if len(shape) == 1:
            t = torch.ones(shape, dtype=torch.bfloat16)
        else:
            t = (torch.randn(shape, generator=g) * (1.0 / shape[1] ** 0.5)).to(torch.bfloat16)
        shard[name] = t
        size += t.numel() * 2
        total += t.numel()
        if size >= SHARD_BYTES:
            flush()
    if shard:
        flush()
    count = len(shards)
    for i, (old, names) in enumerate(shards):
        new = f"model-{i + 1:05d}-of-{count:05d}.safetensors"
        os.replace(os.path.join(out, old), os.path.join(out, new))
        weight_map.update({n: new for n in names})
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 2 * total}, "weight_map": weight_map}, f, indent=2)
    return total


def write_side_files(out, layers):
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config(layers), f, indent=2)
    shutil.copy(TOKENIZER, os.path.join(out, "tokenizer.json"))
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({"add_bos_token": True, "add_eos_token": True, "bos_token": "<s>", "eos_token": "</s>",
                   "model_max_length": 32768, "pad_token": "</s>", "tokenizer_class": "LlamaTokenizer",
                   "unk_token": "<unk>"}, f, indent=2)
    os.makedirs(os.path.join(out, "1_Pooling"), exist_ok=True)
    with open(os.path.join(out, "1_Pooling", "config.json"), "w") as f:
        json.dump({"word_embedding_dimension": H, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": False,
                   "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False,
                   "pooling_mode_weightedmean_tokens": False, "pooling_mode_lasttoken": True,
                   "include_prompt": True}, f, indent=2)
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
               {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]
    with open(os.path.join(out, "modules.json"), "w") as f:
        json.dump(modules, f, indent=2)
    with open(os.path.join(out, "sentence_bert_config.json"), "w") as f:
        json.dump({"max_seq_length": 32768, "do_lower_case": False}, f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--layers", type=int, default=LAYERS)
    ap.add_argument("--out", default=None, help="default Benchmarks/.peer-cache/models/e5-mistral-7b-shape[-Nl]")
    args = ap.parse_args()
    if not 1 <= args.layers <= LAYERS:
        raise SystemExit(f"--layers must be 1..{LAYERS}")
    suffix = "" if args.layers == LAYERS else f"-{args.layers}l"
    out = args.out or os.path.join(REPO, "Benchmarks", ".peer-cache", "models", f"e5-mistral-7b-shape{suffix}")
    work = out + ".tmp"
    if os.path.exists(work):
        shutil.rmtree(work)
    os.makedirs(work)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    total = write_weights(work, args.layers)
    write_side_files(work, args.layers)
    if os.path.exists(out):
        shutil.rmtree(out)
    os.replace(work, out)
    print(f"wrote {out}: {total:,} parameters, {2 * total / 1e9:.2f} GB of bf16 weights")


if __name__ == "__main__":
    main()
