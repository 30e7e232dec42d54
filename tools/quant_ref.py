#!/usr/bin/env python3
"""tools/quant_ref.py — an independent check of what `archc quantize` writes.

    quant_ref.py check IN_DIR OUT_DIR FORMAT
        Reads the original checkpoint (IN_DIR) and the quantised one (OUT_DIR)
        with numpy only, quantises every quantised tensor again with its own
        reference code, and requires the codes and scales to be identical; it
        also decodes the stored tensors and checks the error against the
        format's bound, and that kept tensors are the input's values.
    quant_ref.py dequantize IN_DIR OUT_DIR DEST_DIR
        Writes DEST_DIR/model.safetensors (shapes from IN_DIR) with every quantised matrix
        (stacked experts: back in their [E, in, out] layout) decoded to
        f32 (and config.json without quantization_config): the f32 model on
        these weights differs from the quantised model only by the kernels'
        activation quantisation, which tests/quant uses to check the kernels.

Layouts: docs/quantize.md.  No safetensors/torch dependency: the files are
parsed here (8-byte little-endian header length, JSON header, raw data).
"""
import json
import os
import struct
import sys

import numpy as np

DT = {"F32": np.float32, "F16": np.float16, "BF16": "bf16", "I8": np.int8, "U8": np.uint8, "F8_E4M3": "e4m3"}


def read_st(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in hdr.items():
        if name == "__metadata__":
            continue
        b, e = t["data_offsets"]
        raw = np.frombuffer(data[b:e], dtype=np.uint8)
        out[name] = (t["dtype"], tuple(t["shape"]), raw)
    return out


def read_dir(d):
    idx = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(idx):
        files = sorted(set(json.load(open(idx))["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    t = {}
    for f in files:
        t.update(read_st(os.path.join(d, f)))
    return t


def as_f32(dtype, shape, raw):
    if dtype == "F32":
        return raw.view(np.float32).reshape(shape)
    if dtype == "F16":
        return raw.view(np.float16).astype(np.float32).reshape(shape)
    if dtype == "BF16":
        return (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32).reshape(shape)
    raise ValueError(dtype)


def to_bf16_bits(x):
    u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    r = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return r.astype(np.uint16)


def roundf(v):  # C roundf: half away from zero (in f64, where |v| + 0.5 is exact)
    v = v.astype(np.float64)
    return (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(np.int64)


# every non-negative e4m3fn value, by code 0…126
E4M3 = np.array([(c & 7) * 2.0 ** -9 if c < 8 else (1 + (c & 7) / 8) * 2.0 ** ((c >> 3) - 7) for c in range(127)])
E2M1 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6])


def nearest_even(table, a):
    """Codes of the nearest table entries to a >= 0; ties to the even code."""
    i = np.clip(np.searchsorted(table, a), 1, len(table) - 1)
    lo, hi = table[i - 1], table[i]
    dl, dh = a - lo, hi - a
    pick_hi = (dh < dl) | ((dh == dl) & (i % 2 == 0))
    code = np.where(pick_hi, i, i - 1)
    return np.where(a >= table[-1], len(table) - 1, code)


def pad32(w):
    """w [N, K] → [N, nb, 32], a partial last block zero-padded."""
    N, K = w.shape
    nb = -(-K // 32)
    p = np.zeros((N, nb * 32), np.float32)
    p[:, :K] = w
    return p.reshape(N, nb, 32), nb


def scale_f16(d):
    """archc quantize's f16 block scale: the nearest f16, one step further from
    zero when that is below |d| (so no code leaves its range); as f32."""
    h = d.astype(np.float16)
    up = np.abs(h.astype(np.float32)) < np.abs(d)
    return (h.view(np.uint16) + up.astype(np.uint16)).view(np.float16).astype(np.float32)


SCALE_F16 = [False]   # set from the output's quantization_config.scale_dtype


def ref_int8(w):
    N, K = w.shape
    b, nb = pad32(w)
    d = (np.abs(b).max(axis=2) / np.float32(127)).astype(np.float32)
    if SCALE_F16[0]:
        d = scale_f16(d)
    idv = np.where(d > 0, np.float32(1) / np.where(d > 0, d, 1), 0).astype(np.float32)
    q = np.clip(roundf((b * idv[:, :, None]).astype(np.float32)), -127, 127).astype(np.int8)
    return q.reshape(N, nb * 32)[:, :K].copy(), d


def ref_int4(w):
    N, K = w.shape
    b, nb = pad32(w)
    i = np.abs(b).argmax(axis=2)
    m = np.take_along_axis(b, i[:, :, None], axis=2)[:, :, 0]
    d = (m / np.float32(-8)).astype(np.float32)
    if SCALE_F16[0]:
        d = scale_f16(d)
    idv = np.where(d != 0, np.float32(1) / np.where(d != 0, d, 1), 0).astype(np.float32)
    q = np.clip(roundf((b * idv[:, :, None]).astype(np.float32)), -8, 7) + 8
    q = q.reshape(N, nb, 16, 2)
    packed = (q[..., 0] | (q[..., 1] << 4)).astype(np.uint8)
    return packed.reshape(N, nb * 16), d


def ref_mxfp4(w):
    N, K = w.shape
    b, nb = pad32(w)
    amax = np.abs(b).max(axis=2)
    _, ex = np.frexp(amax)
    e = np.where(amax > 0, np.clip(ex - 3, -127, 127), -127)
    v = (b.astype(np.float64) * np.exp2(-e.astype(np.float64))[:, :, None]).astype(np.float32)
    code = nearest_even(E2M1, np.abs(v).astype(np.float64)) | np.where(np.signbit(v), 8, 0)
    code = code.reshape(N, nb, 16, 2)
    packed = (code[..., 0] | (code[..., 1] << 4)).astype(np.uint8)
    return packed.reshape(N, nb, 16), (e + 127).astype(np.uint8)


def ref_fp8(w):
    N, K = w.shape
    nb, kb = -(-N // 128), -(-K // 128)
    s = np.zeros((nb, kb), np.float32)
    q = np.zeros((N, K), np.uint8)
    for i in range(nb):
        for j in range(kb):
            blk = w[i * 128:(i + 1) * 128, j * 128:(j + 1) * 128]
            sc = np.float32(np.abs(blk).max()) / np.float32(448)
            s[i, j] = sc
            if sc == 0:
                continue
            v = (blk / sc).astype(np.float32)
            c = nearest_even(E4M3, np.minimum(np.abs(v), 448).astype(np.float64)) | np.where(np.signbit(v), 0x80, 0)
            q[i * 128:(i + 1) * 128, j * 128:(j + 1) * 128] = c
    return q, s


def decode(fmt, w, s, N, K):
    nb = -(-K // 32)
    if fmt == "int8":
        q = np.zeros((N, nb * 32), np.float32)
        q[:, :K] = w.view(np.int8).reshape(N, K)
        return (q.reshape(N, nb, 32) * s.reshape(N, nb, 1)).reshape(N, nb * 32)[:, :K]
    if fmt in ("int4", "mxfp4"):
        b = w.reshape(N, nb, 16)
        lo, hi = (b & 15).astype(np.int64), (b >> 4).astype(np.int64)
        codes = np.stack([lo, hi], axis=3).reshape(N, nb, 32)
        if fmt == "int4":
            v = (codes - 8).astype(np.float32) * s.reshape(N, nb, 1)
        else:
            val = E2M1[codes & 7] * np.where(codes & 8, -1.0, 1.0)
            v = (val * np.exp2(s.astype(np.float64) - 127).reshape(N, nb, 1)).astype(np.float32)
        return v.reshape(N, nb * 32)[:, :K]
    # fp8
    c = w.reshape(N, K).astype(np.int64)
    val = np.concatenate([E4M3, [np.nan]])[c & 0x7F] * np.where(c & 0x80, -1.0, 1.0)
    sc = np.repeat(np.repeat(s, 128, axis=0), 128, axis=1)[:N, :K]
    return (val * sc).astype(np.float32)


SUFFIX = {"int8": ("", "_scale"), "int4": ("", "_scale"), "fp8": ("", "_scale_inv"), "mxfp4": ("_blocks", "_scales")}


STACKED = (".experts.gate_up_proj", ".experts.down_proj")   # gpt-oss / Llama 4: [E, in, out]


def quantised_names(out, fmt):
    wsuf, ssuf = SUFFIX[fmt]
    for name in out:
        if name.endswith(".weight" + ssuf) or any(name.endswith(st + ssuf) for st in STACKED):
            base = name[: -len(ssuf)]
            yield base, base + wsuf, name


def matrices(w):
    """The N × K matrices a quantised tensor holds: a 2-D weight itself, or each
    expert of a stacked [E, in, out] tensor transposed (output-major)."""
    return [w] if w.ndim == 2 else [np.ascontiguousarray(w[e].T) for e in range(w.shape[0])]


def quantise(fmt, w):
    """Codes and scales of a 2-D weight, or stacked experts' ([E, …] each)."""
    ref = {"int8": ref_int8, "int4": ref_int4, "mxfp4": ref_mxfp4, "fp8": ref_fp8}[fmt]
    parts = [ref(m) for m in matrices(w)]
    if w.ndim == 2:
        return parts[0]
    return np.stack([p[0] for p in parts]), np.stack([p[1] for p in parts])


def decode_any(fmt, wraw, s, shape):
    """Decode to the input's shape: [N, K], or stacked [E, in, out]."""
    if len(shape) == 2:
        return decode(fmt, wraw, s, shape[0], shape[1])
    E, K, N = shape
    per_w, per_s = wraw.size // E, s.size // E
    return np.stack([decode(fmt, wraw[e * per_w:(e + 1) * per_w], s.reshape(-1)[e * per_s:(e + 1) * per_s].reshape(s.shape[1:]), N, K).T
                     for e in range(E)])


def check(in_dir, out_dir, fmt):
    src, out = read_dir(in_dir), read_dir(out_dir)
    cfg = json.load(open(os.path.join(out_dir, "config.json")))
    qc = cfg["quantization_config"]
    if fmt == "fp8":
        assert qc["quant_method"] == "fp8" and qc["weight_block_size"] == [128, 128], qc
    elif fmt == "mxfp4":
        assert qc["quant_method"] == "mxfp4", qc
    else:
        assert qc["quant_method"] == "archc" and qc["format"] == fmt and qc["group_size"] == 32, qc
        assert qc["scale_dtype"] in ("float16", "float32"), qc
        SCALE_F16[0] = qc["scale_dtype"] == "float16"
    done, worst = set(), 0.0
    for base, wname, sname in quantised_names(out, fmt):
        # tied embeddings are untied: lm_head.weight is quantised from the embedding
        w = as_f32(*src[base if base in src or base != "lm_head.weight" else "model.embed_tokens.weight"])
        q, s = quantise(fmt, w)
        wd, wsh, wraw = out[wname]
        sd, ssh, sraw = out[sname]
        got_s = sraw.view(np.float32) if sd == "F32" else sraw.view(np.float16).astype(np.float32) if sd == "F16" else sraw
        if fmt in ("int8", "int4"):
            assert sd == ("F16" if SCALE_F16[0] else "F32"), (sname, sd, qc["scale_dtype"])
        want_dt = {"int8": "I8", "int4": "U8", "mxfp4": "U8", "fp8": "F8_E4M3"}[fmt]
        assert wd == want_dt and tuple(wsh) == q.shape, (wname, wd, wsh, q.shape)
        assert tuple(ssh) == s.shape, (sname, ssh, s.shape)
        nq = int(np.count_nonzero(wraw != q.reshape(-1).view(np.uint8)))
        ns = int(np.count_nonzero(got_s != s.reshape(-1)))
        if nq or ns:
            sys.exit(f"FAIL {wname}: {nq} codes and {ns} scales differ from the reference quantisation")
        deq = decode_any(fmt, wraw, got_s.reshape(s.shape), w.shape)
        amax = (np.abs(w).max() or 1.0) if w.size else 1.0   # zero-size: a 0-expert shared MLP (n_shared_experts 0)
        err = float(np.abs(deq - w).max() / amax) if w.size else 0.0
        worst = max(worst, err)
        bound = {"int8": 0.5 / 127 + 1e-6, "int4": 1 / 8 + 1e-6, "mxfp4": 0.5 + 1e-6, "fp8": 1 / 16 + 1e-6}[fmt]
        if SCALE_F16[0] and fmt in ("int8", "int4"):
            bound *= 1 + 2.0 ** -10   # the scale rounded up by at most one f16 step
        if err > bound:
            sys.exit(f"FAIL {wname}: decoded error {err} of max|w| > {bound}")
        done.add(base)
    if not done:
        sys.exit("FAIL: no quantised tensors found")
    for name, (d, sh, raw) in src.items():
        if name in done:
            continue
        if name not in out:
            sys.exit(f"FAIL: kept tensor {name} missing from the output")
        od, osh, oraw = out[name]
        if tuple(osh) != tuple(sh):
            sys.exit(f"FAIL: {name}: shape {osh}, input {sh}")
        if od == d:
            if not np.array_equal(oraw, raw):
                sys.exit(f"FAIL: kept tensor {name} changed")
        elif od == "BF16":
            if not np.array_equal(oraw.view(np.uint16), to_bf16_bits(as_f32(d, sh, raw)).reshape(-1)):
                sys.exit(f"FAIL: kept tensor {name}: not the input rounded to bf16")
        elif not np.array_equal(as_f32(od, osh, oraw), as_f32(d, sh, raw).astype(np.float32)):
            sys.exit(f"FAIL: kept tensor {name} changed ({d} → {od})")
    print(f"ok: {fmt}: {len(done)} tensors identical to the reference quantisation, "
          f"{len(src) - len(done)} kept; worst decoded error {worst:.4g} of max|w|")


def dequantize(in_dir, out_dir, dest):
    shapes = {k: v[1] for k, v in read_dir(in_dir).items()}
    if "lm_head.weight" not in shapes and "model.embed_tokens.weight" in shapes:  # untied by archc quantize
        shapes["lm_head.weight"] = shapes["model.embed_tokens.weight"]
    out = read_dir(out_dir)
    cfg = json.load(open(os.path.join(out_dir, "config.json")))
    qc = cfg.pop("quantization_config")
    fmt = "fp8" if qc["quant_method"] == "fp8" else "mxfp4" if qc["quant_method"] == "mxfp4" else qc["format"]
    res = {}
    skip = set()
    for base, wname, sname in quantised_names(out, fmt):
        wd, wsh, wraw = out[wname]
        sd, ssh, sraw = out[sname]
        s = (sraw.view(np.float32) if sd == "F32" else sraw.view(np.float16).astype(np.float32) if sd == "F16" else sraw).reshape(ssh)
        res[base] = decode_any(fmt, wraw, s, shapes[base])
        skip |= {wname, sname}
    for name, (d, sh, raw) in out.items():
        if name not in skip:
            res[name] = as_f32(d, sh, raw)
    os.makedirs(dest, exist_ok=True)
    hdr, off, blobs = {}, 0, []
    for name in sorted(res):
        a = np.ascontiguousarray(res[name], dtype=np.float32)
        hdr[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        off += a.nbytes
        blobs.append(a.tobytes())
    h = json.dumps(hdr).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(os.path.join(dest, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for b in blobs:
            f.write(b)
    cfg["torch_dtype"] = "float32"
    json.dump(cfg, open(os.path.join(dest, "config.json"), "w"), indent=2)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) == 5 and sys.argv[1] == "dequantize":
        dequantize(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)
