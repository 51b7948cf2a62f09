"""PyTorch only: Keras' channels-last convolutions without two copies of every activation.

Keras 3 (up to at least 3.15) runs a channels-last convolution on torch as permute -> `.contiguous()` (an NCHW copy)
-> `.contiguous(memory_format=channels_last)` (a copy back to NHWC memory) -> conv. The permuted NHWC tensor is
already a valid `channels_last` NCHW tensor, so both copies can go: in inference they took about half the patch
network's time on CPU (0.40 -> 0.22 s for 9 patches of 128² through the baseline; issue #16). The `.contiguous()`
is there for view-based ops and `torch.export`, so this is applied only to PatchNet's own inference calls (no
autograd, no tracing or compiling), for the duration of the call, and `tests/test_models.py` checks that it
changes no output.

In the same block, inference-mode BatchNormalization is one fused multiply-add per element (x * a + b, with
a = scale / sqrt(variance + eps) and b = offset - mean * a computed on the (C,) vectors) instead of Keras'
subtract, multiply and add passes over the activation.
"""

import contextlib

import keras


@contextlib.contextmanager
def fast_inference():
    """Inference outside Keras' own predict step (the streaming path, `models/streaming.py`): on torch, autograd off
    and `fast_channels_last`; elsewhere nothing. `fast_channels_last` alone does nothing while autograd is on, and
    Keras turns it off only inside `predict_on_batch`, after the block has been entered."""
    if keras.backend.backend() != "torch":
        yield
        return
    import torch

    with torch.no_grad(), fast_channels_last():
        yield


@contextlib.contextmanager
def fast_channels_last():
    """Within the block, Keras' torch convolutions and poolings skip the layout copies (inference only)."""
    if keras.backend.backend() != "torch":
        yield
        return
    import torch
    from keras.src.backend.torch import nn as torch_nn

    original = getattr(torch_nn, "_transpose_spatial_inputs", None)
    original_bn = getattr(torch_nn, "batch_normalization", None)
    if original is None or original_bn is None:
        yield
        return
    if torch.is_grad_enabled() or torch.jit.is_tracing() or torch.compiler.is_compiling():
        yield
        return

    def permute_only(inputs):
        if inputs.ndim == 4:
            return torch.permute(inputs, (0, 3, 1, 2))
        return original(inputs)

    def fused_batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
        x = torch_nn.convert_to_tensor(x)
        if axis not in (-1, x.ndim - 1) or not x.is_floating_point():
            return original_bn(x, mean, variance, axis, offset, scale, epsilon)
        a = torch.rsqrt(torch_nn.convert_to_tensor(variance) + epsilon)
        if scale is not None:
            a = a * torch_nn.convert_to_tensor(scale)
        b = -torch_nn.convert_to_tensor(mean) * a
        if offset is not None:
            b = b + torch_nn.convert_to_tensor(offset)
        return torch.addcmul(b.to(x.dtype), x, a.to(x.dtype))

    torch_nn._transpose_spatial_inputs = permute_only
    torch_nn.batch_normalization = fused_batch_normalization
    try:
        yield
    finally:
        torch_nn._transpose_spatial_inputs = original
        torch_nn.batch_normalization = original_bn
