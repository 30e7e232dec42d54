#!/usr/bin/env python3
"""bench/peer_torch.py — the PyTorch peer for bench/run.sh.

Runs the same checkpoint (an HF-style directory written by `archc init-weights`)
with Hugging Face transformers on the CPU: a 128-token prefill and N greedy
decode steps with the KV cache, and prints one line in the binary's format:

  peer torch prefill_tokens=P prefill_tok_s=X decode_tokens=D decode_tok_s=Y threads=N
"""
import sys, time

def main():
    if len(sys.argv) < 4:
        print("usage: peer_torch.py DIR THREADS DECODE_TOKENS", file=sys.stderr)
        return 2
    path, threads, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    try:
        import torch
        from transformers import AutoModelForCausalLM
    except ImportError:
        print("peer torch unavailable (pip install torch transformers)")
        return 0
    torch.set_num_threads(threads)
    model = AutoModelForCausalLM.from_pretrained(path, attn_implementation="sdpa")
    model.eval()
    ids = torch.arange(1000, 1128).unsqueeze(0)
    with torch.inference_mode():
        t0 = time.perf_counter()
        out = model(ids, use_cache=True)
        t1 = time.perf_counter()
        past = out.past_key_values
        tok = out.logits[:, -1:].argmax(-1)
        t2 = time.perf_counter()
        for _ in range(n):
            out = model(tok, past_key_values=past, use_cache=True)
            past = out.past_key_values
            tok = out.logits[:, -1:].argmax(-1)
        t3 = time.perf_counter()
    print(f"peer torch prefill_tokens=128 prefill_tok_s={128 / (t1 - t0):.1f} "
          f"decode_tokens={n} decode_tok_s={n / (t3 - t2):.2f} threads={threads}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
