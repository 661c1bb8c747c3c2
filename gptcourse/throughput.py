"""How fast training runs: tokens per second, and the model FLOPs utilisation (MFU).

Tokens per second depend on the model's size; MFU does not: it is the fraction of the
hardware's peak arithmetic that the model's own matrix products use,

    MFU = tokens/s x FLOPs per token / peak FLOP/s,

with the FLOPs per token of :func:`gptcourse.model.flops_per_token` (``6 N + 12 L T C``
for a training step) and the peak of the chip in the precision it computes in, the
*dense* figure of its datasheet (without the 2:4 structured sparsity that doubles the
marketing number). Work the model does not need (recomputation, padding) does not count.

    >>> round(mfu(500_000, 1e9, 989e12), 3)
    0.506
"""

from __future__ import annotations

import torch

__all__ = ["PEAK_TFLOPS", "peak_tflops", "mfu"]

#: Dense peak TFLOP/s from the vendors' datasheets: ``{chip: {dtype: TFLOP/s}}``, matched
#: as a substring of ``torch.cuda.get_device_name()`` (the first match in this order).
#: float32 is TF32 on the tensor cores (the trainer turns TF32 on); SXM parts.
PEAK_TFLOPS: dict[str, dict[str, float]] = {
    "H200 NVL": {"bfloat16": 835.5, "float16": 835.5, "float32": 417.8},
    "H200": {"bfloat16": 989.4, "float16": 989.4, "float32": 494.7},
    "H100 NVL": {"bfloat16": 835.5, "float16": 835.5, "float32": 417.8},
    "H100 PCIe": {"bfloat16": 756.0, "float16": 756.0, "float32": 378.0},
    "H100": {"bfloat16": 989.4, "float16": 989.4, "float32": 494.7},
    "A100": {"bfloat16": 312.0, "float16": 312.0, "float32": 156.0},
    "L40S": {"bfloat16": 362.1, "float16": 362.1, "float32": 183.0},
    "A10G": {"bfloat16": 70.0, "float16": 70.0, "float32": 35.0},
    "RTX 4090": {"bfloat16": 165.2, "float16": 165.2, "float32": 82.6},
    "RTX 3090": {"bfloat16": 71.0, "float16": 71.0, "float32": 35.6},
    "V100": {"float16": 125.0, "float32": 15.7},
    "T4": {"float16": 65.0, "float32": 8.1},
}


def peak_tflops(
    device: torch.device, dtype: torch.dtype, override: float | None = None
) -> tuple[float | None, str]:
    """The peak TFLOP/s that MFU is measured against, and where the figure comes from.

    ``override`` (e.g. a configuration's ``peak_tflops``) wins. Otherwise CUDA devices
    are looked up in :data:`PEAK_TFLOPS` by name; CPUs, Apple GPUs and unknown GPUs
    have no figure (``None``): pass one to get an MFU there.

        >>> peak_tflops(torch.device("cpu"), torch.float32)
        (None, 'no known peak for cpu; pass peak_tflops')
        >>> peak_tflops(torch.device("cpu"), torch.float32, override=1.5)
        (1.5, 'given')
    """
    if override is not None:
        if not override > 0:
            raise ValueError(f"peak_tflops must be positive, got {override}")
        return float(override), "given"
    if device.type != "cuda":
        return None, f"no known peak for {device.type}; pass peak_tflops"
    name = torch.cuda.get_device_name(device)
    dtype_name = str(dtype).removeprefix("torch.")
    for chip, peaks in PEAK_TFLOPS.items():
        if chip in name and dtype_name in peaks:
            return peaks[dtype_name], f"{chip} {dtype_name} dense (datasheet)"
    return None, f"no known peak for {name} in {dtype_name}; pass peak_tflops"


def mfu(tokens_per_second: float, flops_per_token: float, peak_flops: float) -> float:
    """Model FLOPs utilisation: the fraction of ``peak_flops`` (FLOP/s) the model uses."""
    if not peak_flops > 0:
        raise ValueError(f"peak_flops must be positive, got {peak_flops}")
    return tokens_per_second * flops_per_token / peak_flops
