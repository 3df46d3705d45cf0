import inspect

import pytest

from evaluators.grade import CallUsage
from simulator import tokens


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_published_hashes_match_tiktoken_source(name):
    import tiktoken_ext.openai_public as published

    assert tokens.EXPECTED_SHA256[name] in inspect.getsource(published)
    assert tokens.ENCODING_URLS[name] in inspect.getsource(published)


def test_encoding_loads_from_the_package_without_network(tmp_path, monkeypatch):
    import tiktoken.load

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(tiktoken.load, "read_file", lambda *_: pytest.fail("tiktoken tried to download"))
    tokens.encoding.cache_clear()
    enc = tokens.encoding("o200k_base")
    assert enc.decode(enc.encode("Where is my parcel?")) == "Where is my parcel?"
    assert tokens.count_tokens("hello world") == 2
    tokens.encoding.cache_clear()


def test_tampered_package_data_is_refused(monkeypatch):
    monkeypatch.setitem(tokens.EXPECTED_SHA256, "o200k_base", "0" * 64)
    with pytest.raises(tokens.EncodingUnavailable, match="expected 0000"):
        tokens.packaged_bpe("o200k_base")


def test_message_tokens_include_framing():
    text = tokens.count_tokens("hi")
    assert tokens.count_message_tokens([("human", "hi")]) == text + 4 + 3


def test_price_table_and_override(monkeypatch):
    monkeypatch.setenv("DEFUSE_PRICES", "local=0/0,gpt-4o-mini=1/2")
    table = tokens.PriceTable.from_env()
    usage = CallUsage(role="judge", model="gpt-4o-mini", prompt_tokens=1_000_000, completion_tokens=500_000)
    assert table.cost(usage) == pytest.approx(2.0)
    assert table.cost(usage.model_copy(update={"model": "unknown"})) is None
