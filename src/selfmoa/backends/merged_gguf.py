"""A trained LoRA adapter merged into its base model's GGUF, served as an ordinary model.

Why merge. With a LoRA adapter loaded, llama.cpp's answers changed between two identical
small runs at 4 slots (11-14 of 16 equal) where the base model's did not, so the
``llamacpp`` backend served an adapter one sequence at a time: the 0.5B policy's
evaluation took 1137 s where the base model's took 523 s on 16 slots. A merged model is
a plain model to llama.cpp: it gets the base model's slots and speed (516 s, the merge
included) and the base model's repeatability (exact on one slot; on several, a near-tie
token can differ with how requests share a batch, as for the base model:
docs/backends.md).

What it computes. For every weight the adapter changes (``blk.{i}.attn_q.weight`` and the
other six projections), ``W' = W + s * B A``: ``W`` dequantised from the base GGUF's own
type, the delta exactly the one the llama.cpp LoRA file holds (``lora_gguf.gguf_tensors``:
each module's PEFT scaling ``s`` folded in, a Llama model's q/k rows permuted as llama.cpp
stores them). ``W'`` is written as Q8_0: re-quantising to the base's 4- or 5-bit type
would round most of a small delta away, while Q8_0's step is 16 times finer than a 4-bit
one. Every other tensor and all metadata are copied byte for byte, so the served model
differs from the base only where the adapter does.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from selfmoa.backends.lora_gguf import read_adapter
from selfmoa.core.errors import SelfMoaError


def lora_deltas(
    adapter_dir: Path, base_model_dir: Path
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """GGUF weight name -> (A, B) of the adapter, scaling folded into B, as llama.cpp's LoRA
    file would hold them."""
    tensors, _ = read_adapter(adapter_dir, base_model_dir)
    weights = {name.removesuffix(".lora_a") for name in tensors if name.endswith(".lora_a")}
    return {name: (tensors[f"{name}.lora_a"], tensors[f"{name}.lora_b"]) for name in weights}


def merged_type(columns: int) -> Any:
    """The GGML type a merged weight is written in: Q8_0, or F16 where a row of ``columns``
    is not a whole number of Q8_0 blocks."""
    import gguf

    q8 = gguf.GGMLQuantizationType.Q8_0
    return gguf.GGMLQuantizationType.F16 if columns % gguf.GGML_QUANT_SIZES[q8][0] else q8


def merged_weight(weight: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``weight`` (out, in), float32, plus the low-rank delta ``b @ a``, in ``merged_type``."""
    import gguf

    merged = weight + b.astype(np.float32) @ a.astype(np.float32)
    return gguf.quants.quantize(merged, merged_type(merged.shape[-1]))


def merge_adapter(base_gguf: Path, adapter_dir: Path, base_model_dir: Path, target: Path) -> Path:
    """Write ``target``: ``base_gguf`` with the adapter trained on ``base_model_dir`` merged
    into the weights it adapts (written to a ``.partial`` file, then renamed). Every check
    runs before the file is opened; each weight is merged as it is written, one at a time."""
    import gguf

    deltas = lora_deltas(adapter_dir, base_model_dir)
    reader = gguf.GGUFReader(str(base_gguf))
    missing = sorted(set(deltas) - {tensor.name for tensor in reader.tensors})
    if missing:
        raise SelfMoaError(
            f"{base_gguf.name} has no tensor {missing[0]} that the adapter changes "
            f"({len(missing)} missing): the adapter was trained on another model"
        )
    arch = str(reader.fields[gguf.Keys.General.ARCHITECTURE].contents())
    writer = gguf.GGUFWriter(None, arch, endianess=reader.endianess)
    alignment = reader.fields.get(gguf.Keys.General.ALIGNMENT)
    if alignment is not None:
        writer.data_alignment = int(alignment.contents())
    _copy_metadata(reader, writer)
    for tensor in reader.tensors:
        if tensor.name not in deltas:
            data = tensor.data
            writer.add_tensor_info(
                tensor.name, data.shape, data.dtype, data.nbytes, tensor.tensor_type
            )
            continue
        rows, columns = (int(n) for n in reversed(tensor.shape))
        a, b = deltas[tensor.name]
        if (rows, columns) != (b.shape[0], a.shape[1]):
            raise SelfMoaError(
                f"the adapter's delta {b.shape[0]}x{a.shape[1]} does not fit the base weight "
                f"{rows}x{columns}: was it trained on another model?"
            )
        kind = merged_type(columns)
        byte_shape = gguf.quant_shape_to_byte_shape((rows, columns), kind)
        writer.add_tensor_info(tensor.name, byte_shape, np.uint8, math.prod(byte_shape), kind)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    writer.write_header_to_file(path=partial)
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for tensor in reader.tensors:
        data = tensor.data
        if tensor.name in deltas:
            weight = gguf.quants.dequantize(data, tensor.tensor_type)
            data = merged_weight(weight, *deltas[tensor.name])
        writer.write_tensor_data(data)
    writer.close()
    partial.replace(target)
    return target


def _copy_metadata(reader: object, writer: object) -> None:
    """Every key of the base file except the ones the writer writes itself."""
    import gguf

    assert isinstance(reader, gguf.GGUFReader) and isinstance(writer, gguf.GGUFWriter)
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue
        value_type = field.types[0]
        sub_type = field.types[-1] if value_type == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), value_type, sub_type=sub_type)
