"""Tiny randomly initialised Llama and Qwen2 models, a BPE tokenizer trained on the spot with the
`tokenizers` library (with a chat template, so LongBench's chat path runs), and small LongBench
JSONL files: everything the tests need, nothing downloaded."""

from __future__ import annotations

import json
import os
import random

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

from ckv_capture import longbench

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


def build_tokenizer(directory: str) -> PreTrainedTokenizerFast:
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
    fast.save_pretrained(directory)
    return fast


def build_model(kind: str, directory: str, tokenizer) -> str:
    common = dict(vocab_size=len(tokenizer), max_position_embeddings=2048, bos_token_id=tokenizer.bos_token_id,
                  eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                  tie_word_embeddings=False, initializer_range=0.08)
    if kind == "llama":
        # H = 4 query heads over G = 2 KV heads (GQA), 3 layers.
        config = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=3, num_attention_heads=4,
                             num_key_value_heads=2, head_dim=16, **common)
        cls = LlamaForCausalLM
    elif kind == "qwen2":
        # H = 6 over G = 2 (3 query heads per KV head), biased q/k/v projections, 2 layers.
        config = Qwen2Config(hidden_size=96, intermediate_size=128, num_hidden_layers=2, num_attention_heads=6,
                             num_key_value_heads=2, **common)
        cls = Qwen2ForCausalLM
    else:
        raise ValueError(kind)
    torch.manual_seed({"llama": 1, "qwen2": 2}[kind])
    model = cls(config).eval()
    # Random weights at 0.08 give flat attention; sharper query/key projections make attention
    # peaked enough that eviction changes outputs and greedy tokens.
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.q_proj.weight.mul_(4.0)
            layer.self_attn.k_proj.weight.mul_(4.0)
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
