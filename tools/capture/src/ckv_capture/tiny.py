"""Tiny randomly initialised models of every supported family, a BPE tokenizer trained on the spot
with the `tokenizers` library (with a chat template, so LongBench's chat path runs), and small
LongBench JSONL files: a first run and the tests need nothing downloaded.

`ckv-capture --tiny-model DIR` and `--tiny-longbench DIR` call `build_model` and `write_longbench`.
The models are random: their attention is real (what the capture and the replay are checked
on), their answers are noise."""

from __future__ import annotations

import json
import os
import random

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from . import longbench
from .models import REFUSED

WORDS = ("river stone garden window paper silver mountain violin lantern harbor orchard meadow candle "
         "engine castle forest valley bridge market tower island desert winter summer morning evening "
         "teacher doctor farmer painter sailor writer Alice Bruno Clara Dmitri Elena Farouk Greta Hugo "
         "Paris Lisbon Oslo Cairo Lima Quito Seoul Delhi blue green red yellow seven eleven twenty "
         "built wrote visited founded painted married discovered moved sold found").split()
SPECIAL = ["<s>", "</s>", "<pad>", "<|user|>", "<|assistant|>"]
CHAT_TEMPLATE = ("{{ bos_token }}{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}\n"
                 "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}")


def _corpus(rng: random.Random) -> list[str]:
    lines = [t.replace("{context}", " ").replace("{input}", " ") for t in longbench.PROMPTS.values()]
    for _ in range(400):
        lines.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 20))) + rng.choice([".", "?", "!"]))
    lines += ["Paragraph 1: Question: Answer: Type: Location Person Number", "0 1 2 3 4 5 6 7 8 9 10 11 12"]
    return lines


def build_tokenizer(directory: str | None = None) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer (600 tokens) trained on LongBench's prompt templates and the
    words of `write_longbench`, saved into `directory` when one is given."""
    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(_corpus(random.Random(0)), trainer)
    # A BOS in front of plain prompts, as Llama-family tokenizers add it (pred.py tokenizes with it).
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", tokenizer.token_to_id("<s>"))])
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                   additional_special_tokens=["<|user|>", "<|assistant|>"])
    fast.chat_template = CHAT_TEMPLATE
    if directory is not None:
        fast.save_pretrained(directory)
    return fast


# Each family as a tiny config in the keys of its checkpoints' config.json (the names both
# transformers majors read): (model_type, settings, seed). Every family keeps what makes its
# attention its own; hidden sizes stay tiny so that the tests run in seconds on two cores.
_SMALL = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, head_dim=16)
FAMILIES = {
    # H = 4 query heads over G = 2 KV heads (GQA), 3 layers.
    "llama": ("llama", dict(_SMALL, num_hidden_layers=3), 1),
    # H = 6 over G = 2 (3 query heads per KV head), biased q/k/v projections, 2 layers.
    "qwen2": ("qwen2", dict(hidden_size=96, intermediate_size=128, num_hidden_layers=2, num_attention_heads=6,
                            num_key_value_heads=2), 2),
    # Llama 3.1's RoPE scaling (rope_type llama3), its theta, and an original context short enough
    # (256) that the scaling changes the frequencies a 16-dimensional head uses.
    "llama3.1": ("llama", dict(_SMALL, rope_theta=500000.0,
                               rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                             "high_freq_factor": 4.0, "original_max_position_embeddings": 256}), 3),
    # Mistral 7B v0.1's sliding window (4096): longer than every sample, so attention is full.
    "mistral": ("mistral", dict(_SMALL, sliding_window=4096), 4),
    # Qwen3: RMS-normalised queries and keys (q_norm, k_norm) before RoPE.
    "qwen3": ("qwen3", dict(_SMALL), 5),
    # Phi-3: one fused qkv projection; Phi-3.5 / Phi-4-mini's LongRoPE (short and long factors,
    # attention factor) on a partial rotary dimension (half of each head, as Phi-4-mini's 0.75 does
    # three quarters). original_max_position_embeddings = 64 puts every test prompt on the long factors.
    "phi3": ("phi3", dict(_SMALL, partial_rotary_factor=0.5, original_max_position_embeddings=64,
                          rope_scaling={"type": "longrope", "short_factor": [1.0, 1.2, 1.5, 2.0],
                                        "long_factor": [1.0, 2.0, 4.0, 8.0]}), 6),
    # Refused families (models.REFUSED), built to check the refusal.
    "gemma2": ("gemma2", dict(_SMALL, query_pre_attn_scalar=16, sliding_window=32), 7),
    "gemma3": ("gemma3_text", dict(_SMALL, query_pre_attn_scalar=16, sliding_window=32), 8),
}


# The families a first run can use (`ckv-capture --tiny-family`): the refused ones excluded.
USABLE = tuple(kind for kind, (model_type, _, _) in FAMILIES.items() if model_type not in REFUSED)


def build_model(kind: str, directory: str, tokenizer=None) -> str:
    """Saves a tiny random model of family `kind` (FAMILIES) and the tokenizer into `directory`;
    deterministic (seeded), so two builds are the same model."""
    from transformers import AutoConfig, AutoModelForCausalLM

    if kind not in FAMILIES:
        raise ValueError(f"unknown tiny model family '{kind}' (one of {', '.join(FAMILIES)})")
    tokenizer = tokenizer if tokenizer is not None else build_tokenizer()
    model_type, settings, seed = FAMILIES[kind]
    common = dict(vocab_size=len(tokenizer), max_position_embeddings=2048, bos_token_id=tokenizer.bos_token_id,
                  eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                  tie_word_embeddings=False, initializer_range=0.08)
    config = AutoConfig.for_model(model_type, **common, **settings)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config).eval()
    # Random weights at 0.08 give flat attention; sharper queries and keys make attention peaked
    # enough that eviction changes outputs and greedy tokens.
    with torch.no_grad():
        for layer in model.model.layers:
            attention = layer.self_attn
            if hasattr(attention, "q_norm"):  # normalised after the projection: scale the norm
                if model_type.startswith("qwen"):
                    attention.q_norm.weight.mul_(2.0)
                    attention.k_norm.weight.mul_(2.0)
            elif hasattr(attention, "qkv_proj"):  # fused: the query and key rows
                rows = (config.num_attention_heads + config.num_key_value_heads) * attention.head_dim
                attention.qkv_proj.weight[:rows].mul_(4.0)
            else:
                attention.q_proj.weight.mul_(4.0)
                attention.k_proj.weight.mul_(4.0)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14))) + "."


def write_longbench(directory: str) -> str:
    """hotpotqa (chat template, extractive answers: evidence) and trec (no chat template,
    classification) in LongBench's JSONL format; one hotpotqa sample is long enough to be
    truncated at --max-length 400."""
    rng = random.Random(7)
    os.makedirs(directory, exist_ok=True)
    lines = []
    # The third sample is truncated; its evidence sits near the end, in the half that is kept.
    for k, (answer, sentences, at) in enumerate([("Lisbon", 14, 4), ("Greta Hugo", 22, 7), ("seven bridges", 70, 68)]):
        passages = [_sentence(rng) for _ in range(sentences)]
        passages.insert(at, f"The painter moved to {answer} in winter.")
        context = "\n".join(f"Passage {i + 1}:\n{p}" for i, p in enumerate(passages))
        lines.append({"input": f"Where did the painter move in winter {k}?", "context": context, "answers": [answer],
                      "length": len(context.split()), "dataset": "hotpotqa", "language": "en", "all_classes": None,
                      "_id": f"hp{k:02d}"})
    with open(os.path.join(directory, "hotpotqa.jsonl"), "w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")
    classes = ["Location", "Person", "Number"]
    lines = []
    for k in range(2):
        examples = [f"Question: {_sentence(rng)}\nType: {rng.choice(classes)}" for _ in range(10)]
        lines.append({"input": f"Question: Who founded the {rng.choice(WORDS)} market?", "context": "\n".join(examples),
                      "answers": ["Person"], "length": 200, "dataset": "trec", "language": "en",
                      "all_classes": classes, "_id": f"tr{k:02d}"})
    with open(os.path.join(directory, "trec.jsonl"), "w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")
    return directory
