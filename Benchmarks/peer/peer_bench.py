"""Side-by-side timing of the LongEmbed encoder against PyTorch (transformers, SDPA attention)
and ONNX Runtime (fused attention) on the same model folder, text, threads and position table.

Run through Benchmarks/peer.sh, which builds `longembed` and the peer venv. Every engine runs in
its own process (so each reports its own peak RSS and owns its threads), the engines take turns
round by round, and every ratio is taken within one round, then the median over rounds is
reported: on a shared machine whose speed drifts, a ratio is only meaningful within one round.

    python peer_bench.py run --longembed .build/release/longembed --model .models/all-MiniLM-L6-v2 \
        --cases 512x32,8192,32768 --threads 2 --rounds 3

Positions past the model's table (Lo = 512 for MiniLM) use linear position interpolation as the
encoder does (LongEmbed Sec. 3.2): s = ceil(N / Lo), token i reads row i / s of the table,
fractional rows interpolate the two neighbours (in double), past the last row the last row; the
attention logits are scaled by max(1, ln N / ln Lo) (computed in fp32), which the peers apply by
scaling the query projection.

Encoder families (a folder with `native_config.json`, as Benchmarks/peer/make_models.py writes
for xlm-roberta, nomic-bert, gte, modernbert and gemma3-bidirectional):

    python Benchmarks/peer/make_models.py                      # Benchmarks/.peer-cache/models/<family>-small
    bash Benchmarks/peer.sh --model Benchmarks/.peer-cache/models/gte-small --cases 8192 --engines ours,torch

the torch worker builds transformers' own class from `native_config.json` (AutoConfig +
AutoModel, SDPA, fp32), loads the folder's safetensors (Hub names are mapped by transformers),
runs the plain forward (the model's own positions: 0..n-1 for RoPE, rows 2..n+1 for XLM-R; no
extension, so the case must fit the trained context Lo that `longembed models` reports) and
applies the folder's sentence-transformers modules (modules.json: Pooling, Dense, Normalize).
Both sides embed without prompt/prefix (`longembed embed --prefix none`); the parity check
compares the two sentence embeddings.
"""
import argparse
import json
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

# The passkey filler, SyntheticData.filler (Sources/LongEmbed/Evaluation/Generators.swift) plus
# the space EncoderBenchmark.document puts after each copy: both sides embed the same text.
FILLER = ("The grass is green. The sky is blue. The sun is yellow. Here we go. "
          "There and back again. ")


def document_text(tokenizer, tokens):
    per = max(1, len(tokenizer(FILLER, add_special_tokens=False)["input_ids"]))
    return FILLER * (tokens // per + 2)


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ---------------------------------------------------------------------------------------------
# PyTorch model with the encoder's position interpolation and attention scaling

def build_torch_model(model_dir, tokens, attention="sdpa"):
    import numpy as np
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(model_dir, attn_implementation=attention, dtype=torch.float32)
    model.eval()
    lo = model.config.max_position_embeddings
    if tokens > lo:
        table = model.embeddings.position_embeddings.weight.detach().numpy().astype(np.float64)
        s = math.ceil(tokens / lo)
        p = np.minimum(np.arange(tokens, dtype=np.float64) / s, lo - 1)
        low = np.floor(p).astype(np.int64)
        high = np.minimum(low + 1, lo - 1)
        f = (p - low)[:, None]
        rows = (1 - f) * table[low] + f * table[high]
        emb = torch.nn.Embedding(tokens, table.shape[1])
        emb.weight.data = torch.from_numpy(rows.astype(np.float32))
        model.embeddings.position_embeddings = emb
        model.config.max_position_embeddings = tokens
        # Attention scaling (LongEmbed, on by default): q *= max(1, ln n / ln Lo), in fp32.
        factor = max(np.float32(1), np.float32(math.log(tokens)) / np.float32(math.log(lo)))
        with torch.no_grad():
            for layer in model.encoder.layer:
                layer.attention.self.query.weight.mul_(float(factor))
                layer.attention.self.query.bias.mul_(float(factor))
    return model


def model_inputs(tokenizer, tokens, batch):
    import torch
    enc = tokenizer(document_text(tokenizer, tokens), truncation=True, max_length=tokens, return_tensors="pt")
    ids = enc["input_ids"].repeat(batch, 1)
    n = ids.shape[1]
    return {
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "token_type_ids": torch.zeros_like(ids),
        "position_ids": torch.arange(n, dtype=torch.int64)[None, :].repeat(batch, 1),
    }


def mean_pool_normalize(hidden):
    import numpy as np
    v = hidden.astype(np.float64).mean(axis=1)
    return (v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def time_calls(call, repeats):
    if repeats > 1:
        call()
    seconds = []
    out = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = call()
        seconds.append(time.perf_counter() - t0)
    return seconds, out


def worker_torch(args):
    import numpy as np
    import torch
    from transformers import AutoTokenizer

    torch.set_num_threads(args.threads)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = build_torch_model(args.model, args.tokens)
    inputs = model_inputs(tokenizer, args.tokens, args.batch)

    def call():
        with torch.inference_mode():
            hidden = model(**inputs).last_hidden_state
            return mean_pool_normalize(hidden.numpy())

    seconds, emb = time_calls(call, args.repeats)
    np.save(args.embedding, emb[:1])
    return {"engine": "torch", "version": torch.__version__, "seconds": seconds,
            "tokens": int(inputs["input_ids"].shape[1]), "peak_rss_mib": peak_rss_mib()}


# ---------------------------------------------------------------------------------------------
# Encoder families (native_config.json beside the Hub config): transformers' own class, no extension

def is_family_folder(model_dir):
    return os.path.exists(os.path.join(model_dir, "native_config.json"))


def family_tokenizer(model_dir, tokens):
    """HF tokenizers on the folder's tokenizer.json, truncating to `tokens` (specials kept), as
    AutoTokenizer's fast tokenizer does; no padding."""
    import tokenizers
    tok = tokenizers.Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=tokens)
    return tok


def family_document(tok, tokens):
    """FILLER repeated until the text holds at least `tokens` tokens (specials included) before
    truncation. (Counting the tokens of one copy alone, as `document_text` and the Swift benchmark
    do, can fall short: where a copy's trailing space merges into the next copy's first word, as in
    byte-level BPE and SentencePiece, a copy takes one token fewer in the repeated text.)"""
    per = max(1, len(tok.encode(FILLER, add_special_tokens=False).ids))
    copies = tokens // per + 2
    while len(tok.encode(FILLER * copies).ids) < tokens:  # tok truncates at `tokens` or not at all
        copies += copies // 8 + 1
    return FILLER * copies


def family_document_ids(model_dir, tokens):
    tok = family_tokenizer(model_dir, tokens)
    return tok.encode(family_document(tok, tokens)).ids


def build_family_model(model_dir, attention="sdpa"):
    import torch
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(os.path.join(model_dir, "native_config.json"))
    model, info = AutoModel.from_pretrained(model_dir, config=config, attn_implementation=attention,
                                            dtype=torch.float32, output_loading_info=True)
    if info.get("missing_keys") or info.get("mismatched_keys"):
        raise RuntimeError(f"{model_dir}: transformers left weights unloaded: {info}")
    return model.eval()


class SentenceModules:
    """The sentence-transformers modules after the Transformer (modules.json): Pooling (cls, mean,
    max, lasttoken), Dense (linear.weight [+ bias], Identity or Tanh) and Normalize, in torch fp32."""

    def __init__(self, model_dir):
        import torch
        from safetensors.torch import load_file
        self.steps = []
        with open(os.path.join(model_dir, "modules.json")) as f:
            modules = json.load(f)
        for m in modules:
            kind = m["type"].rsplit(".", 1)[-1]
            path = os.path.join(model_dir, m.get("path", ""))
            if kind == "Transformer":
                continue
            if kind == "Pooling":
                with open(os.path.join(path, "config.json")) as f:
                    c = json.load(f)
                modes = [k for k in ("cls_token", "mean_tokens", "max_tokens", "lasttoken") if c.get("pooling_mode_" + k)]
                others = [k for k, v in c.items() if k.startswith("pooling_mode_") and v and k[13:] not in modes]
                if len(modes) != 1 or others:
                    raise RuntimeError(f"{path}: unsupported pooling {c}")
                self.steps.append(("pool", modes[0]))
            elif kind == "Dense":
                with open(os.path.join(path, "config.json")) as f:
                    c = json.load(f)
                act = c.get("activation_function", "torch.nn.modules.linear.Identity")
                if act not in ("torch.nn.modules.linear.Identity", "torch.nn.modules.activation.Tanh"):
                    raise RuntimeError(f"{path}: unsupported activation {act}")
                w = load_file(os.path.join(path, "model.safetensors"))
                self.steps.append(("dense", (w["linear.weight"].to(torch.float32),
                                             w.get("linear.bias"), act.endswith("Tanh"))))
            elif kind == "Normalize":
                self.steps.append(("normalize", None))
            else:
                raise RuntimeError(f"{model_dir}: unsupported sentence-transformers module {m['type']}")

    def __call__(self, hidden):
        """hidden: [batch, n, dim] (all-ones attention mask) -> [batch, out]."""
        import torch
        x = hidden
        for kind, arg in self.steps:
            if kind == "pool":
                x = {"cls_token": lambda h: h[:, 0], "mean_tokens": lambda h: h.mean(dim=1),
                     "max_tokens": lambda h: h.max(dim=1).values, "lasttoken": lambda h: h[:, -1]}[arg](x)
            elif kind == "dense":
                w, b, tanh = arg
                x = torch.nn.functional.linear(x, w, b)
                x = torch.tanh(x) if tanh else x
            else:
                x = torch.nn.functional.normalize(x, p=2, dim=1)
        return x

    def describe(self):
        return " -> ".join(k if a is None else (f"pool {a}" if k == "pool" else
                                                  f"dense {tuple(a[0].shape[::-1])}") for k, a in self.steps)


def worker_torch_family(args):
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    model = build_family_model(args.model)
    modules = SentenceModules(args.model)
    ids = torch.tensor([family_document_ids(args.model, args.tokens)], dtype=torch.int64).repeat(args.batch, 1)
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}

    def call():
        with torch.inference_mode():
            return modules(model(**inputs).last_hidden_state).numpy()

    seconds, emb = time_calls(call, args.repeats)
    np.save(args.embedding, emb[:1])
    return {"engine": "torch", "version": torch.__version__, "seconds": seconds,
            "tokens": int(ids.shape[1]), "peak_rss_mib": peak_rss_mib(),
            "class": type(model).__name__, "attention": model.config._attn_implementation,
            "modules": modules.describe()}


def export_onnx(args):
    """Exports the (extended) model once per length with dynamic batch and sequence axes, then
    fuses attention with onnxruntime.transformers' BERT optimizer. Cached beside the venv."""
    import torch
    from transformers import AutoTokenizer

    cache = os.path.join(args.cache, f"minilm_{os.path.basename(os.path.normpath(args.model))}_{args.tokens}")
    fused = cache + ".fused.onnx"
    if os.path.exists(fused):
        return fused
    os.makedirs(args.cache, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    # The eager attention graph is the pattern onnxruntime's optimizer fuses into its Attention op.
    model = build_torch_model(args.model, args.tokens, attention="eager")

    class Wrapped(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids, position_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                              position_ids=position_ids).last_hidden_state

    example = model_inputs(tokenizer, 16, 1)
    names = ["input_ids", "attention_mask", "token_type_ids", "position_ids"]
    raw = cache + ".onnx"
    with torch.no_grad():
        torch.onnx.export(Wrapped(model), tuple(example[k] for k in names), raw, input_names=names,
                          output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                          dynamic_axes={k: {0: "batch", 1: "sequence"} for k in names}
                          | {"last_hidden_state": {0: "batch", 1: "sequence"}})
    from onnxruntime.transformers.optimizer import optimize_model
    cfg = model.config
    opt = optimize_model(raw, model_type="bert", num_heads=cfg.num_attention_heads, hidden_size=cfg.hidden_size)
    opt.save_model_to_file(fused + ".tmp")
    os.replace(fused + ".tmp", fused)
    return fused


def worker_onnx(args):
    import numpy as np
    import onnxruntime as ort
    from transformers import AutoTokenizer

    if is_family_folder(args.model):
        raise SystemExit("the onnx engine exports BERT folders only")
    path = export_onnx(args)
    if args.prepare_only:
        return {"engine": "onnx", "prepared": path}
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    ops = {}
    import onnx
    for node in onnx.load(path, load_external_data=False).graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    inputs = model_inputs(tokenizer, args.tokens, args.batch)
    wanted = {i.name for i in session.get_inputs()}
    feed = {k: v.numpy() for k, v in inputs.items() if k in wanted}

    def call():
        return mean_pool_normalize(session.run(None, feed)[0])

    seconds, emb = time_calls(call, args.repeats)
    np.save(args.embedding, emb[:1])
    return {"engine": "onnx", "version": ort.__version__, "seconds": seconds,
            "tokens": int(inputs["input_ids"].shape[1]), "peak_rss_mib": peak_rss_mib(),
            "fused_attention_nodes": ops.get("Attention", 0) + ops.get("MultiHeadAttention", 0)}


# ---------------------------------------------------------------------------------------------
# Orchestrator

def run_ours(args, tokens, batch, repeats, embedding):
    cmd = [args.longembed, "bench", "encoder", "--model", args.model, "--tokens", str(tokens),
           "--batch", str(batch), "--repeats", str(repeats), "--threads", str(args.threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    m = re.search(r"median ([0-9.]+) s.*peak RSS ([0-9]+) MiB", out)
    if not m:
        raise RuntimeError(f"unexpected output from {' '.join(cmd)}:\n{out}")
    seconds = float(m.group(1))
    result = {"engine": "ours", "seconds": [seconds], "peak_rss_mib": float(m.group(2))}
    n = re.search(r"^tokens\s+([0-9]+)\s+batch", out, re.M)
    if n:
        result["tokens"] = int(n.group(1))
    if embedding:
        # The same text through `longembed embed`, for the parity check.
        if args.family:
            # The length our benchmark's document really had (it can fall short of `tokens`, see
            # family_document); the torch worker is then given the same length.
            tokens = result.get("tokens", tokens)
            tok = family_tokenizer(args.model, tokens)
            doc = family_document(tok, tokens)
        else:
            from transformers import AutoTokenizer
            tokenizer = AutoTokenizer.from_pretrained(args.model)
            doc = document_text(tokenizer, tokens)
        with tempfile.TemporaryDirectory() as tmp:
            text = os.path.join(tmp, "doc.txt")
            with open(text, "w") as f:
                f.write(doc.strip() + "\n")
            if args.family:
                # Both tokenizers on the whole text (before truncation): the same ids?
                out = subprocess.run([args.longembed, "tokenize", "--model", args.model, "--input", text],
                                     check=True, capture_output=True, text=True).stdout
                ours_ids = json.loads(out.strip().splitlines()[0])["ids"]
                tok.no_truncation()
                hf_ids = tok.encode(doc.strip()).ids
                same = ours_ids == hf_ids
                print(f"  token ids of the {len(hf_ids)}-token document (before truncation to {tokens}): "
                      + ("longembed = HF tokenizers" if same else
                         f"DIFFER (longembed {len(ours_ids)} ids, first difference at "
                         f"{next((i for i, (a, b) in enumerate(zip(ours_ids, hf_ids)) if a != b), min(len(ours_ids), len(hf_ids)))})"),
                      flush=True)
            if args.family:
                # No extension and no prompt: the torch side runs the plain forward on the same ids.
                ext = ["--max-tokens", str(tokens), "--prefix", "none"]
            else:
                lo = json.load(open(os.path.join(args.model, "config.json")))["max_position_embeddings"]
                ext = ["--max-tokens", str(tokens)] if tokens <= lo else ["--extension", "pi", "--extend-to", str(tokens)]
            subprocess.run([args.longembed, "embed", "--model", args.model, "--threads", str(args.threads),
                            "--input", text, "--output", embedding, "--format", "npy"] + ext,
                           check=True, capture_output=True, text=True)
    return result


def run_peer(args, engine, tokens, batch, repeats, embedding, more=()):
    cmd = [sys.executable, os.path.abspath(__file__), "worker", "--engine", engine, "--model", args.model,
           "--tokens", str(tokens), "--batch", str(batch), "--repeats", str(repeats),
           "--threads", str(args.threads), "--embedding", embedding, "--cache", args.cache] + list(more)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), TOKENIZERS_PARALLELISM="false",
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{engine} worker failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cpu_snapshot():
    """Busy CPU seconds of the whole machine (/proc/stat), CPU seconds of our finished children, wall time."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    busy = (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return busy, ch.ru_utime + ch.ru_stime, time.monotonic()


def other_cores(a, b):
    """Average cores used by processes other than this benchmark's engines between two snapshots:
    on a shared machine, the measure of how much a timing was disturbed (0 = quiet)."""
    wall = max(b[2] - a[2], 1e-9)
    return max(0.0, ((b[0] - a[0]) - (b[1] - a[1])) / wall)


def wait_for_idle(max_wait, threshold=0.15, window=3.0):
    """Waits (at most max_wait seconds) until other processes use under `threshold` cores over `window` s."""
    deadline = time.monotonic() + max_wait
    waited = False
    while max_wait > 0:
        a = cpu_snapshot()
        time.sleep(window)
        load = other_cores(a, cpu_snapshot())
        if load < threshold:
            break
        if time.monotonic() > deadline:
            print(f"  (still {load:.2f} cores busy elsewhere after {max_wait:.0f} s of waiting; running anyway)", flush=True)
            break
        if not waited:
            print(f"  waiting for the machine to be idle ({load:.2f} cores busy elsewhere)", flush=True)
            waited = True


def parse_cases(text):
    cases = []
    for part in text.split(","):
        tokens, _, batch = part.partition("x")
        cases.append((int(tokens), int(batch or 1)))
    return cases


def mem_available_bytes():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def onnx_fits(config, tokens, batch):
    """ONNX Runtime's CPU Attention op materializes the heads x L x L probabilities of a layer
    (4.3 GiB peak RSS measured at 8192 tokens for MiniLM); skip it, saying why, where that alone
    would take over half of the available memory."""
    need = 4 * batch * config["num_attention_heads"] * tokens * tokens
    avail = mem_available_bytes()
    if avail and need > avail / 2:
        print(f"  onnx skipped at {tokens} x {batch}: its attention materializes heads x L x L scores "
              f"({need / 2**30:.0f} GiB per layer; {avail / 2**30:.0f} GiB available)", flush=True)
        return False
    return True


def orchestrate(args):
    import numpy as np
    all_engines = args.engines.split(",")
    print(f"# peer benchmark  {time.strftime('%Y-%m-%d %H:%M')}  model {args.model}  threads {args.threads}  "
          f"rounds {args.rounds}", flush=True)
    summary = []
    config = json.load(open(os.path.join(args.model, "config.json")))
    cases = parse_cases(args.cases)
    if args.family:
        described = subprocess.run([args.longembed, "models", args.model], check=True, capture_output=True,
                                   text=True).stdout
        for line in described.splitlines():
            if line.split()[:1] and line.split()[0] in ("family", "layers", "block", "positions", "attention",
                                                        "trained", "pooling", "dense", "parameters"):
                print("  " + line, flush=True)
        lo = int(re.search(r"trained context Lo\s+([0-9]+)", described).group(1))
        too_long = [t for t, _ in cases if t > lo]
        if too_long:
            raise SystemExit(f"{args.model}: {too_long} tokens exceed Lo = {lo}; the family comparison runs "
                             "the plain forward (no extension) on both sides")
        if "onnx" in all_engines:
            print("  onnx skipped: the ONNX export covers BERT folders only", flush=True)
            all_engines = [e for e in all_engines if e != "onnx"]
    with tempfile.TemporaryDirectory() as tmp:
        for tokens, batch in cases:
            repeats = 3 if tokens * batch <= 16384 else 1
            engines = [e for e in all_engines if e != "onnx" or onnx_fits(config, tokens, batch)]
            times = {e: [] for e in engines}
            rss = {e: 0.0 for e in engines}
            ratios = {e: [] for e in engines if e != "ours"}
            extra = {}
            ran = {}
            if "onnx" in engines:
                # Export outside the timed rounds, so the worker's peak RSS is the session's own.
                run_peer(args, "onnx", tokens, batch, 1, os.path.join(tmp, "unused.npy"), ["--prepare-only"])
            r = attempts = 0
            while r < args.rounds:
                attempts += 1
                round_t = {}
                others = {}
                for e in engines:
                    want = os.path.join(tmp, f"{e}_{tokens}.npy")
                    emb = want if not args.no_check and not os.path.exists(want) else ""
                    wait_for_idle(args.wait_idle)
                    before = cpu_snapshot()
                    if e == "ours":
                        res = run_ours(args, tokens, batch, repeats, emb)
                    else:
                        # Family folders: the peer runs the length our document really had (same ids).
                        n = ran.get("ours", tokens) if args.family else tokens
                        res = run_peer(args, e, n, batch, repeats, emb or os.path.join(tmp, "unused.npy"))
                        extra[e] = res.get("version", ""), res.get("fused_attention_nodes")
                        if "class" in res:
                            extra[e] = (f"{res['version']}, transformers {res['class']} ({res['attention']}), "
                                        f"{res['tokens']} tokens, {res['modules']}", None)
                    others[e] = other_cores(before, cpu_snapshot())
                    round_t[e] = statistics.median(res["seconds"])
                    if "tokens" in res:
                        ran[e] = res["tokens"]
                    rss[e] = max(rss[e], res["peak_rss_mib"])
                line = "  ".join(f"{e} {round_t[e]:.3f} s" for e in engines)
                busy = ", ".join(f"{e} {others[e]:.2f}" for e in engines)
                disturbed = args.max_other is not None and max(others.values()) > args.max_other
                if disturbed and attempts < 3 * args.rounds:
                    print(f"tokens {tokens:6d} x {batch:2d}  discarded: {line}   (other processes' CPU, cores: {busy} "
                          f"> --max-other {args.max_other})", flush=True)
                    continue
                r += 1
                for e in engines:
                    times[e].append(round_t[e])
                for e in ratios:
                    ratios[e].append(round_t[e] / round_t["ours"])
                print(f"tokens {tokens:6d} x {batch:2d}  round {r}: {line}   (other processes' CPU, cores: {busy})",
                      flush=True)
            if ran and set(ran.values()) != {tokens}:
                print(f"  NOTE: the synthetic document held fewer than the {tokens} tokens asked for: tokens per document "
                      + ", ".join(f"{e} {n}" for e, n in ran.items()), flush=True)
            for e, (version, fused) in extra.items():
                print(f"  {e} {version}" + (f", {fused} fused attention nodes" if fused is not None else ""), flush=True)
            if not args.no_check and "ours" in engines:
                ours_emb = np.load(os.path.join(tmp, f"ours_{tokens}.npy"))[0]
                for e in ratios:
                    peer_emb = np.load(os.path.join(tmp, f"{e}_{tokens}.npy"))[0]
                    cos = float(np.dot(ours_emb, peer_emb) / (np.linalg.norm(ours_emb) * np.linalg.norm(peer_emb)))
                    diff = float(np.max(np.abs(ours_emb - peer_emb)))
                    print(f"  parity vs {e}: cosine {cos:.7f}  max |diff| {diff:.2e}", flush=True)
                    if cos < 0.9999:
                        raise SystemExit(f"embeddings disagree with {e} at {tokens} tokens (cosine {cos})")
            row = {"tokens": tokens, "batch": batch, "ran": sorted(set(ran.values()) - {tokens})}
            for e in engines:
                row[e] = statistics.median(times[e])
                row[e + "_rss"] = rss[e]
            for e in ratios:
                row[e + "_ratio"] = statistics.median(ratios[e])
            summary.append(row)
    engines = all_engines
    print()
    print(f"| tokens x batch | " + " | ".join(f"{e} median s" for e in engines) + " | "
          + " | ".join(f"{e} / ours (median of per-round ratios)" for e in engines if e != "ours")
          + " | " + " | ".join(f"{e} peak RSS MiB" for e in engines) + " |")
    print("|" + "---|" * (1 + 2 * len(engines) + len(engines) - 1))
    for row in summary:
        ran = f" (ran {'/'.join(map(str, row['ran']))})" if row["ran"] else ""
        cells = [f"{row['tokens']}{ran} x {row['batch']}"]
        cells += [f"{row[e]:.3f}" if e in row else "-" for e in engines]
        cells += [f"{row[e + '_ratio']:.2f}x" if e + "_ratio" in row else "-" for e in engines if e != "ours"]
        cells += [f"{row[e + '_rss']:.0f}" if e + "_rss" in row else "-" for e in engines]
        print("| " + " | ".join(cells) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    run = sub.add_parser("run")
    run.add_argument("--longembed", required=True)
    run.add_argument("--model", required=True)
    run.add_argument("--cases", default="512x32,8192,32768", help="TOKENSxBATCH,...")
    run.add_argument("--engines", default="ours,torch,onnx")
    run.add_argument("--threads", type=int, default=os.cpu_count())
    run.add_argument("--rounds", type=int, default=3)
    run.add_argument("--no-check", action="store_true", help="skip the embedding parity check")
    run.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS",
                     help="before each engine's run, wait up to SECONDS for other processes to leave the CPUs idle")
    run.add_argument("--max-other", type=float, default=None, metavar="CORES",
                     help="repeat a round in which other processes used more than CORES cores on average during "
                          "some engine's run (at most 3 x --rounds attempts in all)")
    run.add_argument("--cache", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".peer-cache"))
    w = sub.add_parser("worker")
    w.add_argument("--engine", choices=["torch", "onnx"], required=True)
    w.add_argument("--model", required=True)
    w.add_argument("--tokens", type=int, required=True)
    w.add_argument("--batch", type=int, default=1)
    w.add_argument("--repeats", type=int, default=3)
    w.add_argument("--threads", type=int, required=True)
    w.add_argument("--embedding", required=True)
    w.add_argument("--cache", required=True)
    w.add_argument("--prepare-only", action="store_true", help="export the ONNX model and exit")
    args = ap.parse_args()
    if args.mode == "worker":
        if args.engine == "torch":
            result = worker_torch_family(args) if is_family_folder(args.model) else worker_torch(args)
        else:
            result = worker_onnx(args)
        print(json.dumps(result))
    else:
        args.model = os.path.abspath(args.model)
        args.longembed = os.path.abspath(args.longembed)
        args.family = is_family_folder(args.model)
        orchestrate(args)


if __name__ == "__main__":
    main()
