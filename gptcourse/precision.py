"""Where and in what precision to train: the device, autocast and the gradient scaler.

A GPU multiplies 16-bit numbers many times faster than 32-bit ones. *Mixed precision*
keeps the weights, their gradients and the optimizer in float32 and runs the matrix
products in 16 bits inside :func:`torch.autocast`:

- **bfloat16** has float32's exponent range (8 bits) and a short mantissa: nothing
  overflows, so it needs nothing else. NVIDIA GPUs from Ampere (A100) on have it.
- **float16** has more mantissa but a narrow range: small gradients underflow to 0. A
  :class:`torch.amp.GradScaler` multiplies the loss by a large factor before the backward
  pass and divides the gradients by it again before the optimizer step, skipping the steps
  whose gradients overflowed.

On the CPU the course trains in float32. On NVIDIA GPUs, float32 matrix products may use
the tensor cores' TF32 format (10-bit mantissa): :func:`enable_tf32` turns that on.

    >>> pick_device("cpu")
    device(type='cpu')
    >>> pick_dtype("auto", torch.device("cpu"))
    torch.float32
    >>> pick_dtype("auto", torch.device("cuda"), bf16_supported=False)
    torch.float16
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

__all__ = ["DTYPES", "pick_device", "pick_dtype", "Precision", "enable_tf32"]

#: The names a configuration may give a dtype, and what they mean.
DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}


def pick_device(name: str = "auto") -> torch.device:
    """The device to train on: ``"auto"`` is CUDA, else Apple's MPS, else the CPU.

    Any name :class:`torch.device` accepts (``"cpu"``, ``"cuda:1"``, ``"mps"``) is
    returned as it is, after checking that it is available.
    """
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise ValueError(
            f"unknown device {name!r}: use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"
        ) from e
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} was asked for, but CUDA is not available here")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {name!r} was asked for, but MPS is not available here")
    return device


def pick_dtype(
    name: str, device: torch.device, *, bf16_supported: bool | None = None
) -> torch.dtype:
    """The autocast dtype for ``name`` (a key of :data:`DTYPES`, or ``"auto"``).

    ``"auto"``: bfloat16 on a CUDA GPU that has it, float16 (with a gradient scaler) on
    one that does not, float32 elsewhere (the CPU, MPS). ``bf16_supported`` overrides
    the question asked of the GPU (for tests).
    """
    if name == "auto":
        if device.type != "cuda":
            return torch.float32
        if bf16_supported is None:
            bf16_supported = torch.cuda.is_bf16_supported()
        return torch.bfloat16 if bf16_supported else torch.float16
    if name not in DTYPES:
        raise ValueError(f"unknown dtype {name!r}; use 'auto' or one of {', '.join(DTYPES)}")
    return DTYPES[name]


@dataclass(frozen=True)
class Precision:
    """How a training step computes: the device type and the autocast dtype.

    ``dtype`` float32 means no autocast. float16 needs a gradient scaler
    (:attr:`needs_scaler`); :meth:`grad_scaler` returns one that is enabled then and a
    pass-through otherwise, so that the training step is written once::

        scaler.scale(loss).backward(); scaler.step(optimizer); scaler.update()
    """

    device_type: str
    dtype: torch.dtype = torch.float32

    @classmethod
    def for_device(cls, device: torch.device, dtype: str = "auto") -> Precision:
        return cls(device.type, pick_dtype(dtype, device))

    @property
    def needs_scaler(self) -> bool:
        return self.dtype == torch.float16

    def autocast(self) -> contextlib.AbstractContextManager:
        """``torch.autocast`` in ``dtype``, or nothing for float32."""
        if self.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.dtype)

    def grad_scaler(self) -> torch.amp.GradScaler:
        """A :class:`torch.amp.GradScaler`, enabled for float16 only."""
        return torch.amp.GradScaler(self.device_type, enabled=self.needs_scaler)

    @property
    def name(self) -> str:
        return str(self.dtype).removeprefix("torch.")


def enable_tf32() -> None:
    """Let float32 matrix products and convolutions on NVIDIA GPUs use TF32 tensor cores.

    Only CUDA's kernels read these settings; the CPU's float32 arithmetic is unchanged.
    """
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
