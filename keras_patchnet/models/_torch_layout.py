"""PyTorch only: Keras' channels-last convolutions without two copies of every activation.

Keras 3 (up to at least 3.15) runs a channels-last convolution on torch as permute -> `.contiguous()` (an NCHW copy)
-> `.contiguous(memory_format=channels_last)` (a copy back to NHWC memory) -> conv. The permuted NHWC tensor is
already a valid `channels_last` NCHW tensor, so both copies can go: in inference they took about half the patch
network's time on CPU (0.40 -> 0.22 s for 9 patches of 128² through the baseline; issue #16). The `.contiguous()`
is there for view-based ops and `torch.export`, so this is applied only to PatchNet's own inference calls (no
autograd, no tracing or compiling), for the duration of the call, and `tests/test_models.py` checks that it
changes no output.
"""

import contextlib

import keras


@contextlib.contextmanager
def fast_channels_last():
    """Within the block, Keras' torch convolutions and poolings skip the layout copies (inference only)."""
    if keras.backend.backend() != "torch":
        yield
        return
    import torch
    from keras.src.backend.torch import nn as torch_nn

    original = getattr(torch_nn, "_transpose_spatial_inputs", None)
    if original is None or torch.is_grad_enabled() or torch.jit.is_tracing() or torch.compiler.is_compiling():
        yield
        return

    def permute_only(inputs):
        if inputs.ndim == 4:
            return torch.permute(inputs, (0, 3, 1, 2))
        return original(inputs)

    torch_nn._transpose_spatial_inputs = permute_only
    try:
        yield
    finally:
        torch_nn._transpose_spatial_inputs = original
