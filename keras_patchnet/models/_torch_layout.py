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
subtract, multiply and add passes over the activation; and the UNet decoders' stride-1 "same" transposed
convolutions pass their padding to torch, where Keras computes the full (H + k - 1)² output and crops it (a larger
convolution and a strided copy: torch's `padding` crops the same rows and columns).
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
    original_bn = getattr(torch_nn, "batch_normalization", None)
    original_ct = getattr(torch_nn, "conv_transpose", None)
    if original is None or original_bn is None or original_ct is None:
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

    def padded_conv_transpose(
        inputs, kernel, strides=1, padding="valid", output_padding=None, data_format=None, dilation_rate=1
    ):
        kernel = torch_nn.convert_to_tensor(kernel)
        k = tuple(kernel.shape[:2])
        plain = (
            padding == "same"
            and torch_nn.convert_to_tensor(inputs).ndim == 4
            and (data_format or keras.config.image_data_format()) == "channels_last"
            and strides in (1, (1, 1), [1, 1])
            and dilation_rate in (1, (1, 1), [1, 1])
            and output_padding is None
            and k[0] % 2 == 1
            and k[1] % 2 == 1
        )
        if not plain:
            return original_ct(inputs, kernel, strides, padding, output_padding, data_format, dilation_rate)
        x = torch.permute(torch_nn.convert_to_tensor(inputs), (0, 3, 1, 2))
        w = torch.permute(kernel, (3, 2, 0, 1))  # (kh, kw, out, in) -> (in, out, kh, kw)
        out = torch.nn.functional.conv_transpose2d(x, w, padding=(k[0] // 2, k[1] // 2))
        return torch.permute(out, (0, 2, 3, 1))

    torch_nn._transpose_spatial_inputs = permute_only
    torch_nn.batch_normalization = fused_batch_normalization
    torch_nn.conv_transpose = padded_conv_transpose
    try:
        yield
    finally:
        torch_nn._transpose_spatial_inputs = original
        torch_nn.batch_normalization = original_bn
        torch_nn.conv_transpose = original_ct
