"""PatchNet: the full-image model that owns a patch network and the extract / stitch / refine layers."""

import keras

from keras_patchnet.layers import BilateralRefine, PatchExtract, PatchStitch
from keras_patchnet.models import blocks
from keras_patchnet.models._host import as_host_batch, check_host_images
from keras_patchnet.models._torch_layout import fast_channels_last
from keras_patchnet.ops.encoding import ENCODINGS, read_images
from keras_patchnet.ops.light import CHANNELS as LIGHT_CHANNELS
from keras_patchnet.ops.light import check_light, light_channels
from keras_patchnet.ops.patches import check_image_shape
from keras_patchnet.ops.resize import INTERPOLATIONS, resize

# The working-scale resize never makes a side longer than this times the input's longest side; an image that would
# need more (a strip a few pixels wide) runs at its own size.
MAX_WORKING_UPSCALE = 4
TORCH_CHUNK_PIXELS = 16 * 128 * 128  # patch pixels per call of the patch network on PyTorch (see inference_chunk)
LIGHTS = (None, "sh9", "sh9-film")  # what a PatchNet is told of the light (see its `light` argument)


def _normalization_scope(patch_model):
    """The scope of the patch network's `IntensityNormalization` layer (found by type), or None for a network
    without one."""
    for layer in patch_model.layers:
        if isinstance(layer, blocks.IntensityNormalization):
            return layer.scope
    return None


def _batch_of(x):
    images = x.get("images") if isinstance(x, dict) else x
    shape = getattr(images, "shape", None)
    return shape[0] if shape is not None and len(shape) else None


@keras.saving.register_keras_serializable(package="keras_patchnet")
class PatchNet(keras.Model):
    """Depth and normal maps of a textureless surface from RGB images of any size (Tsoli & Argyros, 2019).

    Images are cut into overlapping patches, the patch network predicts relative depth and normals per patch, the
    patches are stitched back (normals averaged and renormalised; depth patches shifted by least-squares offsets over
    the overlaps) and the seams are smoothed by a foreground-aware bilateral filter. Every step is differentiable,
    so the model trains with plain `fit` on whole images (loss after stitching), while `.patch_model` trains on
    patches (the report's way).

    Input contract: RGB images (B, H, W, 3), any H and W (smaller than a patch: zero-padded, then cropped), B >= 0
    (an empty batch gives empty maps); optionally a dict {"images": ..., "mask": (B, H, W, 1)} whose foreground
    mask restricts the depth offset solve and the refinement to the surface. How each dtype is read:
    uint8 as is (0-255); uint16 scaled by 255 / 65535 (its whole range, never clipped); other integer types as
    values on the 0-255 scale; float as values on the 0-255 scale (under intensity="patch" or "image" the range
    does not matter; under intensity="none", the shipped calibrated presets, a [0, 1] float image must be
    multiplied by 255, and `predict` warns when every value is <= 1); bool is refused (TypeError). Non-finite
    pixels (NaN, inf) are read as 0 and taken out of the mask, so they never spread through the depth offset
    solve, and `predict` warns with their count. No output is NaN for finite or partly non-finite input.
    Outputs: {"depth": (B, H, W, 1) relative depth in metres (defined up to one constant per image),
    "normals": (B, H, W, 3) unit normals in the camera frame (OpenCV axes: x right, y down, z forward), pointing to
    the camera}.

    Args:
        patch_model: a Keras model patches (N, P, P, 3) -> {"depth": (N, P, P, 1), "normals": (N, P, P, 3)}.
        patch_size: P, must match `patch_model`. Default 128.
        min_overlap, rule: the patch grid (`PatchExtract`). Default: overlap >= P // 2, "even" rule.
        refine: apply `BilateralRefine` to both maps. Default True.
        refine_region: "seams" (default: only pixels within `seam_width` of an inner patch edge) or "all".
        seam_width, refine_diameter, refine_sigma_space: the filter's band and window (pixels).
        depth_sigma_range: range sigma for depth, in metres (default 0.05).
        normals_sigma_range: range sigma for normals (unit-vector components, L1; default 0.3 as in the report).
        intensity: "patch" (default): each patch is divided by its own maximum inside the patch network;
            "image": each image is scaled to a maximum of 255 here, before it is cut, and the patch network (built
            with the same `intensity`) only divides by 255, so brightness differences between patches survive;
            "none": pixel values in [0, 255] are used as they are (a calibrated camera and light, where absolute
            brightness tells the angle to the light).
        depth_solver: the offset solver of the depth stitch (`PatchStitch`): "auto" (default: dense up to 256
            patches an image, sparse conjugate gradients above, so memory and time stay linear in the pixels),
            "direct", "sparse", or "cg" (exports to ONNX, see `keras_patchnet.export`).
        patch_batch_size: in inference, the patch network runs over at most this many patches at a time (default
            256: about 0.3 GB of activations for the UNet at P = 64), so its memory is set by the chunk, not the
            image; None runs all patches of the batch at once. Training always runs one batch (BatchNorm).
        working_width: None (default): the patch network runs at the input's own resolution. An int: images
            are resized (bilinear, antialiased) to this width, the aspect kept, before they are cut, and the maps
            are resized back to the input's size (depth bilinear; normals bilinear, then renormalised), so the
            network always sees the surface at the pixel scale it was trained at. Presets trained at one scale
            set it (see their config); pass `working_width=None` to run at native resolution. No side grows past
            `MAX_WORKING_UPSCALE` (4) times the input's longest side: a strip runs at its own size.
        working_interpolation: how images are brought to `working_width`: "bilinear" (default; antialiased when
            shrinking) or "nearest" (each working pixel is the input pixel under its centre; see `ops.resize`).
            "nearest" keeps a render's pixel noise and sharpness, as in the native renders the presets were
            trained on; they set it (on validation renders the UNet preset's depth / angle ratio to the flat plane
            at 448² went from 0.568 / 0.560 with "bilinear" to 0.499 / 0.442, against 0.498 / 0.440 at its native
            112²). The foreground mask is resized the same way; the maps always come back bilinear.
        input_encoding: how the caller's pixel values encode brightness: "linear" (default; what the presets
            trained on the package's linear renders read) or "srgb" (8-bit photos and path-traced PNGs: the sRGB
            tone curve is undone inside the model, before anything else).
        light: None (default: told nothing of the light), "sh9" or "sh9-film": a light-conditioned model, whose input
            is {"images", "mask" (optional), "light": (B, 9)}, one code per image (`keras_patchnet.lighting`, any
            scale), handed to the patch network as 9 constant channels after the image's 3 (`ops.light_channels`),
            read as input channels ("sh9") or as FiLM scales and shifts of its encoder ("sh9-film", UNet only).
        architecture: what built `patch_model`, recorded in the config: {"arch": name, "width": ...,
            "network_kwargs": {...}} (set by `keras_patchnet.models`; None for a network of your own). Presets
            and `keras_patchnet.hub.model_config` read it; nothing reads layer names.
    """

    def __init__(
        self,
        patch_model,
        patch_size=128,
        min_overlap=None,
        rule="even",
        refine=True,
        refine_region="seams",
        seam_width=3,
        refine_diameter=5,
        refine_sigma_space=1.5,
        depth_sigma_range=0.05,
        normals_sigma_range=0.3,
        depth_solver="auto",
        intensity="patch",
        patch_batch_size=256,
        architecture=None,
        working_width=None,
        working_interpolation="bilinear",
        input_encoding="linear",
        light=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(patch_model, dict):
            patch_model = keras.saving.deserialize_keras_object(patch_model)
        if light not in LIGHTS:
            raise ValueError(f"`light` must be one of {LIGHTS}. Received: light={light!r}")
        self.light = light
        expected = (None, patch_size, patch_size, 3 + (LIGHT_CHANNELS if light else 0))
        if tuple(patch_model.input_shape) != expected:
            raise ValueError(
                f"`patch_model` must take patches of shape {expected} for patch_size={patch_size}, light={light!r}. "
                f"Received: patch_model.input_shape={patch_model.input_shape}"
            )
        self.patch_model = patch_model
        scope = _normalization_scope(patch_model)
        if intensity not in blocks.INTENSITIES or scope not in (None, "patch" if intensity == "patch" else "fixed"):
            raise ValueError(
                f"`intensity` must be one of {blocks.INTENSITIES} and match the patch network's first layer "
                f"(scope {scope!r}). Received: intensity={intensity!r}"
            )
        self.intensity = intensity
        grid = {"patch_size": patch_size, "min_overlap": min_overlap, "rule": rule}
        self.extract = PatchExtract(**grid, name="extract")
        self.stitch_depth = PatchStitch(**grid, mode="depth", solver=depth_solver, name="stitch_depth")
        self.stitch_normals = PatchStitch(**grid, mode="normals", name="stitch_normals")
        refine_args = dict(
            diameter=refine_diameter,
            sigma_space=refine_sigma_space,
            region=refine_region,
            seam_width=seam_width,
            **grid,
        )
        self.refine_depth = BilateralRefine(sigma_range=depth_sigma_range, name="refine_depth", **refine_args)
        self.refine_normals = BilateralRefine(
            sigma_range=normals_sigma_range, renormalize=True, name="refine_normals", **refine_args
        )
        self.patch_size, self.min_overlap, self.rule = patch_size, self.extract.min_overlap, rule
        self.refine, self.refine_region, self.seam_width = bool(refine), refine_region, seam_width
        self.refine_diameter, self.refine_sigma_space = refine_diameter, refine_sigma_space
        self.depth_sigma_range, self.normals_sigma_range = depth_sigma_range, normals_sigma_range
        self.depth_solver = depth_solver
        if patch_batch_size is not None and (
            isinstance(patch_batch_size, bool) or not isinstance(patch_batch_size, int) or patch_batch_size < 1
        ):
            raise ValueError(
                f"`patch_batch_size` must be a positive int or None. Received: patch_batch_size={patch_batch_size!r}"
            )
        self.patch_batch_size = patch_batch_size
        self.architecture = None if architecture is None else dict(architecture)
        if working_width is not None and (
            isinstance(working_width, bool) or not isinstance(working_width, int) or working_width < 1
        ):
            raise ValueError(
                f"`working_width` must be a positive int or None. Received: working_width={working_width!r}"
            )
        self.working_width = working_width
        if working_interpolation not in INTERPOLATIONS:
            raise ValueError(
                f"`working_interpolation` must be one of {INTERPOLATIONS}. "
                f"Received: working_interpolation={working_interpolation!r}"
            )
        self.working_interpolation = working_interpolation
        if input_encoding not in ENCODINGS:
            raise ValueError(
                f"`input_encoding` must be one of {ENCODINGS}. Received: input_encoding={input_encoding!r}"
            )
        self.input_encoding = input_encoding
        self.built = True  # the patch network is built already; the other layers hold no weights

    def build(self, input_shape=None):
        self.built = True

    def call(self, inputs, training=None):
        images, foreground, size = self._inputs(inputs)
        if images is None:  # an empty batch: empty maps (the networks' kernels are not all defined on 0 samples)
            return {"depth": keras.ops.zeros((0, *size, 1)), "normals": keras.ops.zeros((0, *size, 3))}
        images, foreground, work = self._prepare(images, foreground, size, self._light_of(inputs))
        with fast_channels_last(self.patch_model, training):
            predictions = self._patch_predictions(self.extract(images), training)
        depth = self.stitch_depth(predictions["depth"], output_size=work, foreground=foreground)
        normals = self.stitch_normals(predictions["normals"], output_size=work)
        return self._finish(depth, normals, foreground, size)

    def _inputs(self, inputs):
        """(images, mask or None, (H, W)) from the call's inputs, checked; images is None for an empty batch."""
        if isinstance(inputs, dict):
            if "images" not in inputs:
                raise ValueError(f"A dict input needs an 'images' entry. Received keys: {sorted(inputs)}")
            images, foreground = inputs["images"], inputs.get("mask")
        else:
            images, foreground = inputs, None
        shape = check_image_shape(tuple(images.shape), "images")
        if shape[-1] != 3:
            raise ValueError(f"`images` must have 3 (RGB) channels. Received: images.shape={shape}")
        size = shape[1:3]
        if foreground is not None and tuple(foreground.shape[1:]) != (*size, 1):
            raise ValueError(
                f"`mask` must have shape (batch, {size[0]}, {size[1]}, 1) like the images. "
                f"Received: mask.shape={tuple(foreground.shape)}"
            )
        check_light(self.light, inputs.get("light") if isinstance(inputs, dict) else None, shape[0])
        return (None if shape[0] == 0 else images), foreground, size

    def _light_of(self, inputs):
        return inputs["light"] if self.light else None

    def _prepare(self, images, foreground, size, light=None):
        """Pixel values read by the input contract, non-finite pixels out, intensity mode, the working scale, the
        light's channels appended: (images, foreground, working size) as the patch network sees them."""
        images = read_images(images, self.input_encoding)
        finite = keras.ops.all(keras.ops.isfinite(images), axis=-1, keepdims=True)
        images = keras.ops.where(finite, images, 0.0)  # a NaN or inf pixel is black background, never spread
        if foreground is not None:
            foreground = keras.ops.cast(foreground, "float32") * keras.ops.cast(finite, "float32")
        if self.intensity == "image":
            peak = keras.ops.max(images, axis=(1, 2, 3), keepdims=True)
            images = images * (255.0 / keras.ops.maximum(peak, 1e-6))
        work = self._working_size(size)
        if work != size:  # bring the image to the scale the network was trained at
            images = resize(images, work, self.working_interpolation)
            if foreground is not None:
                foreground = keras.ops.cast(resize(foreground, work, self.working_interpolation) > 0.5, "float32")
        if light is not None:
            channels = keras.ops.cast(light_channels(light)[:, None, None, :], images.dtype)
            images = keras.ops.concatenate([images, keras.ops.ones_like(images[..., :1]) * channels], axis=-1)
        return images, foreground, work

    def _finish(self, depth, normals, foreground, size):
        """Refinement of the stitched maps and the way back to the input's size (normals renormalised)."""
        if self.refine:
            depth = self.refine_depth(depth, foreground=foreground)
            normals = self.refine_normals(normals, foreground=foreground)
        return self._resize_back(depth, normals, size)

    def _resize_back(self, depth, normals, size):
        if tuple(depth.shape[1:3]) != tuple(size):
            depth, normals = resize(depth, size), resize(normals, size)
            normals = normals * keras.ops.rsqrt(keras.ops.sum(keras.ops.square(normals), -1, keepdims=True) + 1e-12)
        return {"depth": depth, "normals": normals}

    def _working_size(self, size):
        """(H, W) at which the patch network runs: `size` itself, or W = `working_width` with the aspect kept."""
        height, width = size
        if not self.working_width or width == self.working_width:
            return tuple(size)
        work = (max(1, int(round(height * self.working_width / width))), self.working_width)
        if max(work) > MAX_WORKING_UPSCALE * max(size):  # a strip: no side may grow past the bound
            return tuple(size)
        return work

    @property
    def data_settings(self):
        """What a dataset must share with this model to feed it patches: {"patch_size", "min_overlap", "rule",
        "intensity", "input_encoding", "light"} (`PatchNetDataset(source, mode="patches", **model.data_settings)`)."""
        return {
            "light": self.light,
            "patch_size": self.patch_size,
            "min_overlap": self.min_overlap,
            "rule": self.rule,
            "intensity": self.intensity,
            "input_encoding": self.input_encoding,
        }

    def _patch_predictions(self, patches, training):
        """The patch network over `patch_batch_size` patches at a time (inference, with a static patch count), so
        that its activations for a large image never exist all at once; one call otherwise (training keeps one
        batch, so BatchNorm sees every patch)."""
        count, chunk = patches.shape[0], self.inference_chunk()
        if training or chunk is None or count is None or count <= chunk:
            return self.patch_model(patches, training=training)
        parts = [self.patch_model(patches[i : i + chunk], training=training) for i in range(0, count, chunk)]
        return {key: keras.ops.concatenate([part[key] for part in parts], axis=0) for key in parts[0]}

    def inference_chunk(self):
        """Patches per call of the patch network in inference: `patch_batch_size`, and on PyTorch (eager) at most
        `TORCH_CHUNK_PIXELS` pixels of patches (16 of 128², 64 of 64²): its CPU kernels run several times faster
        on activations that stay in cache than on one large batch (benchmarks/bench_models.py)."""
        chunk = self.patch_batch_size
        if keras.backend.backend() == "torch":
            small = max(1, TORCH_CHUNK_PIXELS // (self.patch_size * self.patch_size))
            chunk = small if chunk is None else min(chunk, small)
        return chunk

    def _new_size_new_function(self, x):
        """Drops the compiled predict function when the image size changes. TensorFlow traces it with
        `reduce_retracing=True`, which turns a second image size into (None, None) dims, but the patch grid needs
        static sizes: a fresh function per size keeps them static (JAX and torch specialise per shape anyway)."""
        images = x["images"] if isinstance(x, dict) else x
        size = tuple(getattr(images, "shape", ())[1:3])
        if size != getattr(self, "_predict_size", None):
            self.predict_function = None
            self._predict_size = size

    def _before_predict(self, x):
        """Host-side checks and the per-size predict function; the result itself for an empty batch, else None."""
        check_host_images(x, self.intensity, stacklevel=5)
        self._inputs(x)  # the input contract's one-line errors, before Keras traces the call
        if self.light:
            check_light(self.light, x["light"], _batch_of(x), host=True)
        self._new_size_new_function(x)
        if _batch_of(x) == 0:  # Keras' predict loops cannot run on no samples
            return keras.tree.map_structure(keras.ops.convert_to_numpy, self(x))
        return None

    def _streams(self, x):
        """Whether `predict` takes the bounded-memory path (`models.streaming`): one image holds more patches than
        `patch_batch_size`."""
        images = x["images"] if isinstance(x, dict) else x
        shape = tuple(getattr(images, "shape", ()))
        if self.patch_batch_size is None or len(shape) != 4 or None in shape[1:3] or not shape[0]:
            return False
        return self.extract.grid(*self._working_size(shape[1:3])).num_patches > self.patch_batch_size

    def _predict_large(self, x):
        from keras_patchnet.models.streaming import predict_large

        images, foreground, _ = self._inputs(x)
        return predict_large(self, images, foreground, self._light_of(x))

    def fit(self, x=None, y=None, *args, **kwargs):
        # On TensorFlow, build the optimizer's, loss's and metrics' variables from one batch first, so the train step
        # is traced once, not twice (see `keras_patchnet.fitting.build_for_fit`): arrays and PyDatasets; other
        # inputs (tf.data, generators) go to Keras as they are.
        if keras.backend.backend() == "tensorflow" and self.optimizer is not None:
            from keras_patchnet.fitting import build_for_fit

            if isinstance(x, keras.utils.PyDataset):
                build_for_fit(self, x)
            elif y is not None and all(hasattr(a, "shape") for a in keras.tree.flatten((x, y))):
                build_for_fit(self, keras.tree.map_structure(lambda a: a[:1], (x, y)))
        return super().fit(x, y, *args, **kwargs)

    def predict_on_batch(self, x):
        x = as_host_batch(x)
        empty = self._before_predict(x)
        if empty is not None:
            return empty
        return self._predict_large(x) if self._streams(x) else super().predict_on_batch(x)

    def predict(self, x, *args, **kwargs):
        x = as_host_batch(x)
        empty = self._before_predict(x)
        if empty is not None:
            return empty
        return self._predict_large(x) if self._streams(x) else super().predict(x, *args, **kwargs)

    def get_config(self):
        return {
            **super().get_config(),
            "patch_model": keras.saving.serialize_keras_object(self.patch_model),
            "patch_size": self.patch_size,
            "min_overlap": self.min_overlap,
            "rule": self.rule,
            "refine": self.refine,
            "refine_region": self.refine_region,
            "seam_width": self.seam_width,
            "refine_diameter": self.refine_diameter,
            "refine_sigma_space": self.refine_sigma_space,
            "depth_sigma_range": self.depth_sigma_range,
            "normals_sigma_range": self.normals_sigma_range,
            "depth_solver": self.depth_solver,
            "intensity": self.intensity,
            "patch_batch_size": self.patch_batch_size,
            "architecture": self.architecture,
            "working_width": self.working_width,
            "working_interpolation": self.working_interpolation,
            "input_encoding": self.input_encoding,
            "light": self.light,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["patch_model"] = keras.saving.deserialize_keras_object(config["patch_model"])
        return cls(**config)
