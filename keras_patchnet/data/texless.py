"""Reader for the layout of the texture-less deformable surfaces dataset.

Bednarik, Fua, Salzmann, "Learning to Reconstruct Texture-less Deformable Surfaces from a Single View", 3DV 2018:

    root/camera_intrinsics.txt                      3 x 3 matrix (optional)
    root/<object>/images/<sequence>/rgb_NNNN.tiff   224 x 224 RGB
    root/<object>/depth_maps/<sequence>/*_NNNN.npz  key "depth", (H, W) metres, 0 on background
    root/<object>/normals/<sequence>/*_NNNN.npz     key "normals", (H, W, 3), 0 on background (optional)
    root/<object>/masks/<sequence>/*_NNNN.png       the sheet's silhouette, non-zero on it (optional)

A depth sensor's frames fit as they are: without a `normals` folder, normals are derived from depth
(`geometry.normals_from_depth`, with the folder's intrinsics or else the Kinect-like default of `intrinsics`); 0 in
depth is a hole (no reading), never the surface. The silhouette comes from `masks/` when the folder has one, else
from depth > 0 with the holes inside the sheet closed. `load` returns both the silhouette ("mask", what a model sees
as foreground) and where the depth is known ("valid", what losses and metrics read).

Files are paired by object, sequence and frame number (the digits before the extension), never by listing order.
Splits hold out whole sequences by default: adjacent frames of one sequence are near-duplicates, so the report's
random frame split leaks test frames into training.
"""

import os
import re
import warnings
from typing import NamedTuple

import numpy as np

SPLITS = ("sequence", "object", "frame")
_FRAME = re.compile(r"(\d+)\.[A-Za-z0-9]+$")
_KINDS = {"images": (".tif", ".tiff", ".png"), "depth_maps": (".npz",)}
_OPTIONAL = {"normals": (".npz",), "masks": (".png", ".tif", ".tiff", ".bmp")}


class Record(NamedTuple):
    object: str
    sequence: str
    frame: int
    image: str
    depth: str
    normals: str = None  # None: derived from depth
    mask: str = None  # None: depth > 0 with its holes closed


class DataError(ValueError):
    """A file of the dataset is missing, unreadable or inconsistent; the message names the file."""


def _frames(folder, extensions):
    found = {}
    if not os.path.isdir(folder):
        return found
    for name in sorted(os.listdir(folder)):
        m = _FRAME.search(name)
        if m and name.lower().endswith(extensions):
            found[int(m.group(1))] = os.path.join(folder, name)
    return found


def to_uint8(image):
    """An 8-bit view of a uint8 or uint16 image (uint16 scaled by 255 / 65535 and rounded, never clipped)."""
    if image.dtype == np.uint16:
        return np.round(image.astype("float32") * (255.0 / 65535.0)).astype("uint8")
    return image


def read_image(path, native=False):
    """Reads an 8- or 16-bit PNG, TIFF or other Pillow image, grey or RGB(A), as (H, W, 3) RGB.

    The EXIF orientation tag (as cameras write it) is applied, so the array is the image as it is displayed.
    Grey is repeated over three channels and alpha dropped. 16-bit grey files (Pillow modes I;16*, I) keep their
    16 bits: uint16 with `native=True`, else scaled to uint8 (by 255 / 65535, never clipped). 16-bit colour PNGs
    are decoded by Pillow to their high 8 bits (uint8 either way). Raises `DataError` naming the file.
    """
    from PIL import Image

    try:
        with Image.open(path) as im:
            im = _upright(im)
            if im.mode.startswith("I;16") or im.mode == "I":
                grey = np.asarray(im).astype("int64")
                if im.mode == "I" and (grey.min() < 0 or grey.max() > 65535):
                    raise DataError(f"Cannot read image file {path}: 32-bit integer pixels outside 0-65535")
                image = np.repeat(grey.astype("uint16")[..., None], 3, axis=-1)
            elif im.mode == "F":
                raise DataError(
                    f"Cannot read image file {path}: float images (mode F) are not supported; "
                    f"save 8- or 16-bit integers"
                )
            else:
                image = np.asarray(im.convert("RGB"))
    except DataError:
        raise
    except Exception as e:  # PIL raises many types for bad files
        raise DataError(f"Cannot read image file {path}: {e}") from None
    return image if native else to_uint8(image)


def _upright(im):
    """The image as displayed: its EXIF orientation (1-8) applied (Pillow's `ImageOps.exif_transpose`)."""
    from PIL import ImageOps

    return ImageOps.exif_transpose(im) if im.getexif().get(0x0112, 1) != 1 else im


def read_mask(path):
    """Reads a foreground mask file as an (H, W) bool array, as it is displayed (EXIF orientation applied).

    - A file with an alpha channel whose colour carries nothing (one colour everywhere, e.g. a cut-out saved white
      on transparent): alpha above half its range is the surface.
    - A JPEG (lossy: its ringing turns black pixels grey near edges): brightest channel above half range, with a
      warning to save masks as PNG.
    - Anything else (PNG, TIFF, BMP; 0/1, 0/255 or 16-bit): every non-zero pixel is the surface.
    Raises `DataError` naming the file.
    """
    import warnings

    from PIL import Image

    try:
        with Image.open(path) as im:
            im = _upright(im)
            fmt = im.format or ""
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                rgba = np.asarray(im.convert("RGBA"))
                colour = rgba[..., :3].reshape(-1, 3)
                if (colour == colour[:1]).all():
                    return rgba[..., 3] >= 128
        image = read_image(path, native=True)
    except DataError:
        raise
    except Exception as e:
        raise DataError(f"Cannot read mask file {path}: {e}") from None
    if fmt.upper() in ("JPEG", "MPO"):
        warnings.warn(
            f"mask {path} is a JPEG: lossy compression blurs its edges, so it is thresholded at half range; "
            f"save masks as PNG",
            stacklevel=2,
        )
        half = 32768 if image.dtype == np.uint16 else 128
        return image.max(axis=-1) >= half
    return image.max(axis=-1) > 0


def _read_npz(path, key):
    try:
        with np.load(path, allow_pickle=False) as f:
            if key not in f:
                raise DataError(f"File {path} has no array {key!r} (keys: {sorted(f.keys())})")
            return f[key]
    except DataError:
        raise
    except Exception as e:
        raise DataError(f"Cannot read {key} file {path}: {e}") from None


class TexlessDataset:
    """Index of a dataset folder in the layout above, with filters, splits and validated loading.

    Args:
        root: dataset folder.
        objects: optional list of object names to keep (e.g. ["cloth", "tshirt"]).
        sequences: optional list of sequence names to keep.
        on_error: "raise" (default): a missing pair raises `DataError` naming the file; "skip": warn and skip it.
            Applies to the index here and to `load` through `validate()`.

    Example:
    >>> import tempfile
    >>> from keras_patchnet.data import write_synthetic
    >>> root = tempfile.mkdtemp()
    >>> _ = write_synthetic(root, {"cloth": ["Lc_top", "Ll_left"]}, frames=2, size=32)
    >>> ds = TexlessDataset(root)
    >>> len(ds), ds.records[0].sequence, ds.load(0)["image"].shape
    (4, 'Lc_top', (32, 32, 3))
    """

    def __init__(self, root, objects=None, sequences=None, on_error="raise", records=None):
        if on_error not in ("raise", "skip"):
            raise ValueError(f"`on_error` must be 'raise' or 'skip'. Received: on_error={on_error!r}")
        if not os.path.isdir(root):
            raise FileNotFoundError(f"Dataset folder not found: root={root!r}")
        self.root, self.on_error = root, on_error
        self.records = records if records is not None else self._scan(objects, sequences)
        if not self.records:
            raise DataError(f"No samples found under {root} (objects={objects}, sequences={sequences})")
        path = os.path.join(root, "camera_intrinsics.txt")
        self.intrinsics = np.loadtxt(path).astype("float32") if os.path.exists(path) else None

    def _problem(self, message):
        if self.on_error == "raise":
            raise DataError(message)
        warnings.warn(message + " (skipped)", stacklevel=3)

    def _scan(self, objects, sequences):
        records = []
        for obj in sorted(os.listdir(self.root)):
            if not os.path.isdir(os.path.join(self.root, obj, "images")) or (objects and obj not in objects):
                continue
            for seq in sorted(os.listdir(os.path.join(self.root, obj, "images"))):
                if sequences and seq not in sequences:
                    continue
                found = {k: _frames(os.path.join(self.root, obj, k, seq), ext) for k, ext in _KINDS.items()}
                extra = {k: _frames(os.path.join(self.root, obj, k, seq), ext) for k, ext in _OPTIONAL.items()}
                for frame in sorted(set().union(*found.values(), *(f for f in extra.values() if f))):
                    paths = [found[k].get(frame) for k in _KINDS]
                    # an optional folder that exists for this sequence must have every frame
                    paths += [extra[k].get(frame) if extra[k] else "" for k in _OPTIONAL]
                    if None in paths:
                        have = next(p for p in paths if p)
                        missing = [k for k, p in zip([*_KINDS, *_OPTIONAL], paths) if p is None]
                        self._problem(f"{have}: no matching {' or '.join(missing)} file for frame {frame}")
                        continue
                    records.append(Record(obj, seq, frame, *[p or None for p in paths]))
        return records

    def __len__(self):
        return len(self.records)

    def subset(self, records):
        return TexlessDataset(self.root, on_error=self.on_error, records=list(records))

    def load(self, index):
        """Sample `index` as a dict: image (H,W,3) uint8, depth (H,W) float32 m, normals (H,W,3), mask (H,W) the
        silhouette, valid (H,W) where depth and normals are known (the silhouette less the sensor's holes)."""
        r = self.records[index]
        image = read_image(r.image)
        depth = np.asarray(_read_npz(r.depth, "depth"), "float32")
        if depth.ndim == 3 and depth.shape[-1] == 1:
            depth = depth[..., 0]
        if depth.shape != image.shape[:2]:
            raise DataError(f"{r.depth}: depth shape {depth.shape} does not match image {image.shape[:2]} ({r.image})")
        if not np.isfinite(depth).all() or (depth < 0).any():
            raise DataError(f"{r.depth}: depth must be finite and >= 0 (0 = no reading)")
        if r.mask is not None:
            mask = read_mask(r.mask)
            if mask.shape != depth.shape:
                raise DataError(f"{r.mask}: mask shape {mask.shape} does not match image {depth.shape} ({r.image})")
        else:
            mask = close_holes(depth > 0)
        if r.normals is not None:
            normals = np.asarray(_read_npz(r.normals, "normals"), "float32")
            if normals.shape != image.shape[:2] + (3,):
                raise DataError(f"{r.normals}: normals shape {normals.shape}, expected {image.shape[:2] + (3,)}")
        else:
            from keras_patchnet.data.lights import intrinsics
            from keras_patchnet.geometry import normals_from_depth

            K = self.intrinsics if self.intrinsics is not None else intrinsics(*depth.shape)
            known = (depth > 0) & mask
            normals = normals_from_depth(smooth_depth(depth, known, DEPTH_SMOOTHING), K, mask=known)
        valid = mask & (depth > 0) & (np.linalg.norm(normals, axis=-1) > 0.5)
        if not valid.any():
            raise DataError(f"{r.depth}: no foreground (depth > 0 with a unit normal) in frame {r.frame}")
        depth = np.where(valid, depth, 0.0).astype("float32")
        normals = np.where(valid[..., None], normals, 0.0).astype("float32")
        return {"image": image, "depth": depth, "normals": normals, "mask": mask, "valid": valid}

    def validate(self):
        """Loads every sample; with on_error="skip" returns a dataset without the bad ones, else raises."""
        good = []
        for i, r in enumerate(self.records):
            try:
                self.load(i)
                good.append(r)
            except DataError as e:
                self._problem(str(e))
        return self.subset(good)

    def split(self, by="sequence", test_fraction=0.2, seed=0, test_objects=None):
        """(train, test) datasets. by="sequence": whole sequences held out per object (default); by="object":
        whole objects (`test_objects`, or a share drawn by seed); by="frame": random frames (leaks near-duplicates:
        only for comparison with the report)."""
        if by not in SPLITS:
            raise ValueError(f"`by` must be one of {SPLITS}. Received: by={by!r}")
        if not 0 < test_fraction < 1:
            raise ValueError(f"`test_fraction` must be in (0, 1). Received: test_fraction={test_fraction!r}")
        rng = np.random.default_rng(seed)
        if by == "frame":
            order = rng.permutation(len(self.records))
            n_test = max(1, int(round(test_fraction * len(order))))
            test_ids = set(order[:n_test].tolist())
            is_test = [i in test_ids for i in range(len(self.records))]
        elif by == "object":
            objects = sorted({r.object for r in self.records})
            if test_objects is None:
                n = max(1, int(round(test_fraction * len(objects))))
                test_objects = [objects[i] for i in rng.permutation(len(objects))[:n]]
            unknown = set(test_objects) - set(objects)
            if unknown:
                raise ValueError(f"`test_objects` {sorted(unknown)} not in the dataset's objects {objects}")
            if set(test_objects) >= set(objects):
                raise ValueError(f"`test_objects` leaves no object for training: {sorted(test_objects)}")
            is_test = [r.object in test_objects for r in self.records]
        else:
            held = set()
            for obj in sorted({r.object for r in self.records}):
                seqs = sorted({r.sequence for r in self.records if r.object == obj})
                if len(seqs) < 2:
                    warnings.warn(
                        f"Object {obj!r} has one sequence; it stays in training for a sequence split", stacklevel=2
                    )
                    continue
                n = min(len(seqs) - 1, max(1, int(round(test_fraction * len(seqs)))))
                held |= {(obj, seqs[i]) for i in rng.permutation(len(seqs))[:n]}
            is_test = [(r.object, r.sequence) in held for r in self.records]
        train = [r for r, t in zip(self.records, is_test) if not t]
        test = [r for r, t in zip(self.records, is_test) if t]
        if not train or not test:
            raise ValueError(f"Split by {by} left an empty side ({len(train)} train, {len(test)} test samples)")
        return self.subset(train), self.subset(test)


DEPTH_SMOOTHING = 2.0  # pixels: a sensor's depth is smoothed this much before normals are derived from it


def smooth_depth(depth, known, sigma):
    """Gaussian smoothing of `depth` over the pixels where it is `known` only (normalised convolution): noise
    and millimetre steps of a sensor average out, holes and background do not bleed in. 0 where not known."""
    radius = int(np.ceil(3 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)

    def blur(a):  # separable, zero outside the image, any size
        for axis in (0, 1):
            n = a.shape[axis]
            padded = np.pad(a, [(radius, radius) if ax == axis else (0, 0) for ax in (0, 1)])
            a = sum(w * np.take(padded, np.arange(k, k + n), axis=axis) for k, w in enumerate(kernel))
        return a

    weight = known.astype("float64")
    total = blur(np.where(known, depth, 0.0).astype("float64"))
    return np.where(known, total / np.maximum(blur(weight), 1e-12), 0.0).astype("float32")


def close_holes(mask):
    """`mask` with every background region that does not touch the image border filled: a depth sensor's holes
    inside the sheet become foreground, the background around it stays. (H, W) bool -> (H, W) bool."""
    mask = np.asarray(mask, bool)
    outside = np.zeros_like(mask)
    outside[[0, -1], :] = ~mask[[0, -1], :]
    outside[:, [0, -1]] |= ~mask[:, [0, -1]]
    background = ~mask
    while True:  # grow the border's background through background pixels until it stops
        grown = outside.copy()
        grown[1:] |= outside[:-1]
        grown[:-1] |= outside[1:]
        grown[:, 1:] |= outside[:, :-1]
        grown[:, :-1] |= outside[:, 1:]
        grown &= background
        if (grown == outside).all():
            return ~outside
        outside = grown
