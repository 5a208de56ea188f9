"""Read checkpoint tensors without `transformers`: safetensors (single or sharded) or a PyTorch pickle.

safetensors layout (the format's own spec): an 8-byte little-endian header length n, n bytes of
JSON {name: {dtype, shape, data_offsets: [begin, end]}}, then the raw little-endian data.
Every offset is checked against the file size before a byte is read, so a truncated file is
refused with the tensor it cuts, and nothing is half-loaded.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import torch

from workbench.errors import SpecError

# safetensors dtype -> (numpy dtype to read the bytes as, torch dtype to view them as)
DTYPES = {
    "F64": (np.float64, torch.float64),
    "F32": (np.float32, torch.float32),
    "F16": (np.float16, torch.float16),
    "BF16": (np.uint16, torch.bfloat16),
    "I64": (np.int64, torch.int64),
    "I32": (np.int32, torch.int32),
    "I16": (np.int16, torch.int16),
    "I8": (np.int8, torch.int8),
    "U8": (np.uint8, torch.uint8),
    "BOOL": (np.bool_, torch.bool),
}


def safetensors_header(path: Path) -> tuple[dict, int]:
    """(header without __metadata__, byte offset of the data) after checking every tensor's extent."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise SpecError(
                f"weights file {path.name}", f"{size} bytes", "a safetensors file (8-byte header length first)"
            )
        (n,) = struct.unpack("<Q", head)
        if n > size - 8:
            raise SpecError(
                f"weights file {path.name}", f"header of {n} bytes in {size}", "a complete safetensors file"
            )
        try:
            header = json.loads(f.read(n))
        except ValueError:
            raise SpecError(f"weights file {path.name}", "unreadable JSON header", "a safetensors file") from None
    header.pop("__metadata__", None)
    data = size - 8 - n
    for key, t in header.items():
        if t.get("dtype") not in DTYPES:
            raise SpecError(f"weights[{key}].dtype", t.get("dtype"), "one of " + ", ".join(DTYPES))
        begin, end = t["data_offsets"]
        need = int(np.prod(t["shape"], dtype=np.int64)) * np.dtype(DTYPES[t["dtype"]][0]).itemsize
        if end > data:
            raise SpecError(
                f"weights[{key}]",
                f"bytes {begin}..{end} of {data} in {path.name}",
                "a complete safetensors file (this one is truncated)",
            )
        if end - begin != need:
            raise SpecError(f"weights[{key}]", f"{end - begin} bytes", f"{need} bytes for shape {t['shape']}")
    return header, 8 + n


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """Each tensor read straight into its own buffer (no memory map: its pages would count twice)."""
    header, start = safetensors_header(path)
    out = {}
    with open(path, "rb") as f:
        for key, t in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
            begin, end = t["data_offsets"]
            ten = torch.empty(t["shape"], dtype=DTYPES[t["dtype"]][1])
            if end > begin:
                f.seek(start + begin)
                f.readinto(memoryview(ten.reshape(-1).view(torch.uint8).numpy()))
            out[key] = ten
    return out


def weight_files(folder: Path) -> list[Path]:
    """The checkpoint's weight files, in the order formats are preferred."""
    for index in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        if (folder / index).exists():
            shards = sorted(set(json.loads((folder / index).read_text())["weight_map"].values()))
            missing = [s for s in shards if not (folder / s).exists()]
            if missing:
                raise SpecError(f"weights file {missing[0]}", "missing", f"every shard listed in {index}")
            return [folder / s for s in shards]
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (folder / name).exists():
            return [folder / name]
    raise SpecError("weights", str(folder), "a folder with model.safetensors, pytorch_model.bin or a sharded index")


def read_weights(folder: Path) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Every tensor of the checkpoint in `folder` and the file names it came from."""
    tensors: dict[str, torch.Tensor] = {}
    files = weight_files(folder)
    for f in files:
        if f.suffix == ".safetensors":
            part = read_safetensors(f)
        else:
            try:
                part = torch.load(f, map_location="cpu", weights_only=True)  # never unpickles code
            except Exception as err:  # noqa: BLE001 - any unreadable pickle is the user's file
                raise SpecError(f"weights file {f.name}", type(err).__name__, "a readable PyTorch state dict") from None
        tensors.update(part)
    return tensors, [f.name for f in files]
