"""The numbers the reader runs in: bf16 where the CPU has bf16 kernels, fp32 elsewhere.

On a CPU with bf16 kernels (oneDNN's, on AVX-512 or AMX) bf16 made the frozen layers 2–3× faster
to train and the served form about 40% faster than the training form (docs/quality.md). On a CPU
without them torch runs bf16 matmuls on slow reference kernels: on an AVX2-only AMD EPYC the served
form took 2.7 s per 10 pairs in bf16 against 0.38 s in fp32, with the same outcomes on the seed
half (docs/performance.md, *On a CPU without bf16 kernels*).
"""

from __future__ import annotations

from typing import Literal

# "auto" asks the CPU; "bf16" and "fp32" force one (TROLY_READER_PRECISION).
Precision = Literal["auto", "bf16", "fp32"]


def native_bf16() -> bool:
    """Whether oneDNN has bf16 kernels for this CPU."""
    import torch

    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def uses_bf16(precision: Precision) -> bool:
    return native_bf16() if precision == "auto" else precision == "bf16"
