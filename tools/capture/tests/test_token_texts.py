"""Each prompt token's text in the cache metadata (`token_texts`): byte-level BPE pieces mapped
back to bytes (a multi-byte character split over tokens stored as hex), SentencePiece pieces
("▁" for a space, <0x0A> byte fallback), special tokens marked; the entries decode back to the
prompt byte for byte."""

from __future__ import annotations

import json

from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from ckv_capture import cache_format, tiny

HOSTILE = "Paris\n\n  Lisbon: 42, café 東京 <b>&amp;</b> \"x\"\t😀 end"


def test_byte_level_pieces_are_the_prompts_bytes(tmp_path):
    tokenizer = tiny.build_tokenizer(str(tmp_path / "tok"))
    ids = tokenizer(HOSTILE).input_ids  # <s> first (the post-processor adds it)
    assert cache_format.token_text_method(tokenizer) == "byte-level"
    meta = cache_format.token_texts_metadata(tokenizer, ids)
    assert meta["token_text_method"] == "byte-level"
    entries = json.loads(meta["token_texts"])
    assert len(entries) == len(ids)
    assert entries[0] == {"special": "<s>"}
    # the rest, joined, is the text exactly (newlines, tabs, spaces, markup, emoji)
    assert b"".join(cache_format.decode_token_texts(entries[1:])) == HOSTILE.encode("utf-8")
    # the tokenizer never saw 東京 or 😀: their bytes come as pieces that are not UTF-8 alone
    fragments = [e for e in entries if isinstance(e, dict) and "hex" in e]
    assert fragments and all(len(e["hex"]) % 2 == 0 for e in fragments)
    assert any("\n" in e for e in entries if isinstance(e, str))
    # every string entry is the decoding of its token alone (where that decoding is whole)
    for token_id, e in zip(ids[1:], entries[1:], strict=True):
        if isinstance(e, str):
            assert tokenizer.decode([token_id], clean_up_tokenization_spaces=False) == e


def _sentencepiece_tokenizer():
    """A Llama-2-style tokenizer by hand: BPE over "▁"-prefixed words with byte fallback."""
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for piece in ["▁", "a", "b", "c", "▁a", "▁ab", "bc", "1", "2", "."]:
        vocab[piece] = len(vocab)
    merges = [("▁", "a"), ("▁a", "b"), ("b", "c")]
    model = models.BPE(vocab=vocab, merges=merges, byte_fallback=True, unk_token="<unk>")
    tok = Tokenizer(model)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


def test_sentencepiece_pieces_and_byte_fallback():
    tokenizer = _sentencepiece_tokenizer()
    assert cache_format.token_text_method(tokenizer) == "sentencepiece"
    text = "ab bc\né1."
    ids = tokenizer(text, add_special_tokens=False).input_ids
    entries = cache_format.encode_token_texts(cache_format.token_bytes(tokenizer, ids))
    pieces = tokenizer.convert_ids_to_tokens(ids)
    assert "<0x0A>" in pieces and "<0xC3>" in pieces and "<0xA9>" in pieces
    # "▁" became a space, <0x0A> a newline, é's two bytes are two hex fragments
    assert entries[0] == " ab" and "\n" in entries
    assert {"hex": "c3"} in entries and {"hex": "a9"} in entries
    assert b"".join(cache_format.decode_token_texts(entries)) == (" " + text).encode("utf-8")


def test_special_tokens_are_marked_and_bad_entries_refused():
    tokenizer = _sentencepiece_tokenizer()
    ids = [tokenizer.bos_token_id] + tokenizer("a", add_special_tokens=False).input_ids
    entries = cache_format.encode_token_texts(cache_format.token_bytes(tokenizer, ids))
    assert entries == [{"special": "<s>"}, " a"]
    try:
        cache_format.decode_token_texts([{"bytes": "00"}])
    except ValueError as e:
        assert "neither a string" in str(e)
    else:
        raise AssertionError("an unknown entry must be refused")


def test_keep_view_of_a_captured_sample_shows_its_tokens(assets, ckv_sweep, tmp_path):
    """An A8 view on a captured sample: the page shows every prompt token's text (escaped), the
    BOS as a special token, and no tokenizer is needed to read it."""
    import html
    import os
    import re
    import subprocess

    from safetensors import safe_open

    from ckv_capture import capture

    out = tmp_path / "cache"
    assert capture.main(["--model", assets["llama"], "--longbench", assets["longbench"], "--out", str(out),
                         "--device", "cpu", "--max-length", "400", "--tasks", "hotpotqa", "--samples", "1"]) == 0
    entry = cache_format.read_index(str(out))[0]
    with safe_open(os.path.join(out, entry["path"]), framework="pt") as f:
        texts = json.loads(f.metadata()["token_texts"])
    view = tmp_path / "view.html"
    result = subprocess.run([ckv_sweep, "keep-view", "--cache", str(out), "--sample", entry["id"], "--layer", "1",
                             "--a", "snapkv budget=64 window=16", "--b", "h2o budget=64 window=16", "-o", str(view)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    page = view.read_text(encoding="utf-8")
    assert page.count('title="#') == entry["n_tokens"] == len(texts)
    assert "no token texts" not in page
    assert re.search(r'<span class="k[0-3] sp" title="#0 special">&lt;s&gt;</span>', page)  # the BOS
    words = [t for t in texts if isinstance(t, str) and t.strip() and "\n" not in t]
    assert words and all(html.escape(t, quote=True).replace("&#x27;", "&#39;") in page for t in words)
