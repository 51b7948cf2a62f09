"""PyTorch only: Keras' channels-last convolutions without two copies of every activation.

Keras 3 (up to at least 3.15) runs a channels-last convolution on torch as permute -> `.contiguous()` (an NCHW copy)
-> `.contiguous(memory_format=channels_last)` (a copy back to NHWC memory) -> conv. The permuted NHWC tensor is
already a valid `channels_last` NCHW tensor, so both copies can go: in inference they took about half the patch
network's time on CPU (0.40 -> 0.22 s for 9 patches of 128² through the baseline). The `.contiguous()`
is there for view-based ops and `torch.export`, so this is applied only to PatchNet's own inference calls (no
autograd, no tracing or compiling), for the duration of the call, and `tests/test_models.py` checks that it
changes no output.

In the same block, inference-mode BatchNormalization is one fused multiply-add per element (x * a + b, with
a = scale / sqrt(variance + eps) and b = offset - mean * a computed on the (C,) vectors) instead of Keras'
subtract, multiply and add passes over the activation.

Given the patch network (`fast_channels_last(network)`), each convolution -> BatchNormalization -> ReLU chain of it
(`blocks.conv_bn_relu`: a stride-1 Conv2D, or a stride-1 "same" Conv2DTranspose, which is the same convolution with
the kernel flipped) runs as one torch convolution whose kernel and bias carry the BatchNorm, followed by an in-place
ReLU: three passes over the activation fewer (the bias add, the BatchNorm, and the ReLU's fresh tensor). The folded
kernel is made from the layers' current variables at every call (a few microseconds), so there is nothing cached
that could go stale after `fit`, `load_weights` or an assignment. Only chains whose every link has one consumer are
folded, and only in inference (no autograd, `training` not true).
"""

import contextlib
import threading

import keras


@contextlib.contextmanager
def fast_inference(network=None):
    """Inference outside Keras' own predict step (the streaming path, `models/streaming.py`): on torch, autograd off
    and `fast_channels_last(network)`; elsewhere nothing. `fast_channels_last` alone does nothing while autograd is
    on, and Keras turns it off only inside `predict_on_batch`, after the block has been entered."""
    if keras.backend.backend() != "torch":
        yield
        return
    import torch

    with torch.no_grad(), fast_channels_last(network):
        yield


@contextlib.contextmanager
def fast_channels_last(network=None, training=None):
    """Within the block, Keras' torch convolutions and poolings skip the layout copies (inference only), and the
    convolution -> BatchNorm -> ReLU chains of `network` (a functional Keras model) run folded, unless `training`.

    Safe with threads: the replacements are installed by the first block to enter and removed by the last to leave
    (a count under a lock), and a folded layer takes its folded path only in a thread inside a block for its
    network; any other call of it (another thread, training, autograd) runs the layer's own `call`."""
    if keras.backend.backend() != "torch":
        yield
        return
    import torch

    if torch.is_grad_enabled() or torch.jit.is_tracing() or torch.compiler.is_compiling():
        yield
        return
    fold = network is not None and not training
    key = id(network) if fold else None
    with _LOCK:
        installed = _install_shortcuts()
        fold = fold and installed
        if fold:
            entry = _FOLDED.setdefault(key, [0, []])
            if entry[0] == 0:
                for chain in conv_bn_relu_chains(network):
                    for layer, call in zip(chain, _folded_calls(key, *chain)):
                        layer.call = call  # the instance's call, looked up by Operation.__call__
                        entry[1].append(layer)
            entry[0] += 1
    active = _thread_folds()
    if fold:
        active[key] = active.get(key, 0) + 1
    try:
        yield
    finally:
        with _LOCK:
            if fold:
                active[key] -= 1
                if active[key] == 0:
                    del active[key]
                entry[0] -= 1
                if entry[0] == 0:
                    for layer in entry[1]:
                        del layer.call
                    del _FOLDED[key]
            if installed:
                _remove_shortcuts()


_LOCK = threading.Lock()
_SHORTCUTS = {"count": 0, "originals": None}  # the module functions replaced, and how many blocks are inside
_FOLDED = {}  # id(network) -> [blocks inside, layers whose call is replaced]
_THREAD = threading.local()


def _thread_folds():
    """{id(network): blocks this thread is inside}."""
    if not hasattr(_THREAD, "folds"):
        _THREAD.folds = {}
    return _THREAD.folds


def _install_shortcuts():
    """Replace Keras' torch layout transpose and batch normalization (the first block in); False if this Keras has
    neither. Called under _LOCK."""
    import torch
    from keras.src.backend.torch import nn as torch_nn

    if _SHORTCUTS["count"] == 0:
        original = getattr(torch_nn, "_transpose_spatial_inputs", None)
        original_bn = getattr(torch_nn, "batch_normalization", None)
        if original is None or original_bn is None:
            return False

        def permute_only(inputs):
            if inputs.ndim == 4:
                return torch.permute(inputs, (0, 3, 1, 2))
            return original(inputs)

        def fused_batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
            x = torch_nn.convert_to_tensor(x)
            if axis not in (-1, x.ndim - 1) or not x.is_floating_point():
                return original_bn(x, mean, variance, axis, offset, scale, epsilon)
            a, b = _affine(
                *(None if v is None else torch_nn.convert_to_tensor(v) for v in (mean, variance, scale, offset)),
                epsilon,
            )
            return torch.addcmul(b.to(x.dtype), x, a.to(x.dtype))

        _SHORTCUTS["originals"] = original, original_bn
        torch_nn._transpose_spatial_inputs = permute_only
        torch_nn.batch_normalization = fused_batch_normalization
    _SHORTCUTS["count"] += 1
    return True


def _remove_shortcuts():
    """Restore Keras' functions (the last block out). Called under _LOCK."""
    from keras.src.backend.torch import nn as torch_nn

    _SHORTCUTS["count"] -= 1
    if _SHORTCUTS["count"] == 0:
        torch_nn._transpose_spatial_inputs, torch_nn.batch_normalization = _SHORTCUTS["originals"]
        _SHORTCUTS["originals"] = None


def _affine(mean, variance, scale, offset, epsilon):
    """Inference BatchNorm as x * a + b: (a, b) on the (C,) vectors; `scale` and `offset` may be None."""
    import torch

    a = torch.rsqrt(variance + epsilon)
    if scale is not None:
        a = a * scale
    b = -mean * a
    if offset is not None:
        b = b + offset
    return a, b


def _single_consumer(layer, network_outputs):
    """The one layer that consumes `layer`'s one output, or None (also when that output is one of the network's)."""
    if len(layer._inbound_nodes) != 1 or len(layer._outbound_nodes) != 1:
        return None
    if any(id(t) in network_outputs for t in layer._inbound_nodes[0].output_tensors):
        return None
    return layer._outbound_nodes[0].operation


def _foldable_conv(layer):
    if type(layer) not in (keras.layers.Conv2D, keras.layers.Conv2DTranspose):
        return False
    kh, kw = layer.kernel_size
    same = layer.padding == "same" and kh % 2 == 1 and kw % 2 == 1
    if type(layer) is keras.layers.Conv2DTranspose and (not same or layer.output_padding is not None):
        return False
    return (
        tuple(layer.strides) == (1, 1)
        and tuple(layer.dilation_rate) == (1, 1)
        and getattr(layer, "groups", 1) == 1
        and layer.data_format == "channels_last"
        and (same or layer.padding == "valid")
        and layer.activation is keras.activations.linear
        and layer.compute_dtype == "float32"
        and getattr(layer, "quantization_mode", None) is None
    )


def conv_bn_relu_chains(network):
    """(conv, batch norm, ReLU) layer triples of `network` that `fast_channels_last` folds."""
    chains = []
    network_outputs = {id(t) for t in keras.tree.flatten(getattr(network, "outputs", None) or [])}
    for conv in getattr(network, "layers", ()):
        if not _foldable_conv(conv):
            continue
        bn = _single_consumer(conv, network_outputs)
        if type(bn) is not keras.layers.BatchNormalization or bn.axis not in (-1, 3) or bn.renorm:
            continue
        relu = _single_consumer(bn, network_outputs)
        if type(relu) is not keras.layers.ReLU:
            continue
        if relu.max_value is not None or relu.negative_slope != 0 or relu.threshold != 0:
            continue
        if len(relu._inbound_nodes) != 1:
            continue
        chains.append((conv, bn, relu))
    return chains


def _folded_calls(key, conv, bn, relu):
    """Calls for the three layers: in a thread inside a block for network `key`, the convolution does all three and
    the other two pass their input on; anywhere else each layer runs its own `call`."""
    import torch

    def folding():
        return _thread_folds().get(key, 0) > 0 and not torch.is_grad_enabled()

    kh, kw = conv.kernel_size
    padding = (kh // 2, kw // 2) if conv.padding == "same" else (0, 0)
    transpose = type(conv) is keras.layers.Conv2DTranspose

    def call(inputs):
        if not folding():
            return type(conv).call(conv, inputs)
        x = torch.as_tensor(inputs)
        kernel = conv.kernel.value  # (kh, kw, in, out); transposed: (kh, kw, out, in)
        if transpose:  # a stride-1 "same" transposed convolution is the convolution with the kernel flipped
            kernel = torch.flip(kernel, (0, 1)).transpose(2, 3)
        gamma, beta = (bn.gamma.value if bn.scale else None), (bn.beta.value if bn.center else None)
        a, b = _affine(bn.moving_mean.value, bn.moving_variance.value, gamma, beta, bn.epsilon)
        if conv.use_bias:
            b = b + conv.bias.value * a
        weight = (kernel * a).permute(3, 2, 0, 1)  # (out, in, kh, kw)
        y = torch.nn.functional.conv2d(torch.permute(x, (0, 3, 1, 2)), weight, b, padding=padding)
        return torch.relu_(y).permute(0, 2, 3, 1)

    def bn_call(inputs, training=None, mask=None):
        return inputs if folding() else type(bn).call(bn, inputs, training=training, mask=mask)

    def relu_call(inputs):
        return inputs if folding() else type(relu).call(relu, inputs)

    return call, bn_call, relu_call
