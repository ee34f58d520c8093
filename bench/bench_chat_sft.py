"""Does chat fine-tuning follow the format? The base model against the fine-tuned one.

    python bench/bench_chat_sft.py runs/chat-sft [--split test] [--replies 200]

Both models are scored on the same held-out conversations of the SFT run's corpus (its
test split, never trained on), tokenized the same way (the base model gets ChatML's two
new tokens with mean-initialised rows, exactly where fine-tuning started):

- loss and accuracy on the assistant's tokens, and the loss without the end-of-turn
  token (which the base model never saw);
- greedy replies to the held-out prompts (up to `--max-new-tokens`): the share that stop
  at the end-of-turn token `<|im_end|>` rather than running to the limit, and the share
  equal to the reference answer, overall and per task of the corpus's `chat_messages`
  step (a prompt belongs to the task whose template's opening words it starts with).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def task_prefixes(manifest: Path) -> list[tuple[str, str]]:
    """(opening words of a user template, task name) of the corpus's chat_messages step,
    longest first; empty if the corpus was not built by one."""
    if not manifest.exists():
        return []
    recipe = json.loads(manifest.read_text(encoding="utf-8")).get("recipe", {})
    out = []
    for step in recipe.get("steps", []):
        config = step.get("chat_messages") if isinstance(step, dict) else None
        for task in (config or {}).get("tasks", []):
            for variant in task["variants"]:
                head = variant["user"].split("{", 1)[0]
                if head:
                    out.append((head, task.get("name") or task["source"]))
    return sorted(out, key=lambda x: -len(x[0]))


def by_task(results: list[dict], prefixes: list[tuple[str, str]]) -> dict[str, dict]:
    """Replies, end-of-turn share and exact answers per task."""
    groups: dict[str, list[dict]] = {}
    for r in results:
        task = next((name for head, name in prefixes if r["prompt"].startswith(head)), "other")
        groups.setdefault(task, []).append(r)
    return {
        task: {
            "replies": len(rs),
            "end_of_turn_share": round(sum(r["finish"] == "stop" for r in rs) / len(rs), 4),
            "exact_match": round(
                sum(r["reply"].strip() == r["reference"].strip() for r in rs) / len(rs), 4
            ),
        }
        for task, rs in sorted(groups.items())
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--split", default="test", choices=["val", "test"])
    ap.add_argument("--replies", type=int, default=200)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    import torch
    from corpuskit_gpt.chat_data import ChatShards, held_out_conversations
    from corpuskit_gpt.dist import setup
    from corpuskit_gpt.evaluate import reply_checks
    from corpuskit_gpt.model import CausalLM, build_model
    from corpuskit_gpt.tokenizer import load_tokenizer

    from corpuskit.training.launch import load_run

    print(f"load average before: {os.getloadavg()}", flush=True)
    torch.set_num_threads(args.threads)
    trainer, corpus = load_run(args.run_dir)
    cfg = trainer.config
    if not cfg.chat or not cfg.init_folder:
        raise SystemExit(f"{args.run_dir} is not a chat fine-tuning run with init_from")
    tok = load_tokenizer(args.run_dir / "model")
    shards = ChatShards.open(Path(json.loads((args.run_dir / "tokens.json").read_text())["path"]))
    env = setup(cfg.model_copy(update={"threads": args.threads}))
    conversations = held_out_conversations(corpus, cfg, args.split, args.replies)
    models = {
        "base": build_model(cfg, tok.get_vocab_size(), 0, Path(cfg.init_folder)),
        "fine-tuned": build_model(cfg, tok.get_vocab_size(), 0, args.run_dir / "model"),
    }
    prefixes = task_prefixes(corpus.root / "manifest.json")
    rows = {}
    for name, model in models.items():
        started = time.perf_counter()
        model.eval()
        m = shards.metrics(CausalLM(model), args.split, cfg.block_size, 32, None, env)
        checks = reply_checks(model, tok, conversations, args.max_new_tokens)
        rows[name] = {
            "assistant_loss": round(m["loss"], 4),
            "assistant_acc": round(m["acc"], 4),
            "content_loss": round(m["content_loss"], 4),
            "assistant_tokens": m["tokens"],
            "replies": checks["replies"],
            "end_of_turn_share": round(checks["end_of_turn_share"], 4),
            "exact_match": round(checks["exact_match"], 4),
            "seconds": round(time.perf_counter() - started, 1),
            "tasks": by_task(checks["results"], prefixes),
        }
        print(json.dumps({"model": name, **rows[name]}), flush=True)
        for e in checks["examples"][:3]:
            print(f"  {e['prompt'][:60]!r} -> {e['reply'][:60]!r} (ref {e['reference'][:40]!r})")
    base, tuned = rows["base"], rows["fine-tuned"]
    print(
        f"held-out assistant loss: base {base['assistant_loss']} -> fine-tuned "
        f"{tuned['assistant_loss']} ({tuned['assistant_loss'] - base['assistant_loss']:+.3f}); "
        f"without end-of-turn: {base['content_loss']} -> {tuned['content_loss']}"
    )
    print(
        f"replies ending at <|im_end|>: base {base['end_of_turn_share']:.1%} -> fine-tuned "
        f"{tuned['end_of_turn_share']:.1%} of {tuned['replies']}; exact answers "
        f"{base['exact_match']:.1%} -> {tuned['exact_match']:.1%}"
    )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
