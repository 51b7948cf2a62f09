"""Facts the package defines once, in plain Python (no Keras import), so the CLI can read them before it has chosen
a Keras backend.

- `ARCHITECTURES`: the patch networks; `keras_patchnet.models.<name>` holds `<name>_network` for each, so a new
  architecture is its own file plus one name here.
- `INTENSITIES`: how pixel values reach the network (see `PatchNet`).
- `LIGHTINGS`: the renderer's light set-ups; `WORLDS`: its shape distributions (see `keras_patchnet.data.render`).
- `SAMPLE`: the shipped sample image.
- Seeds of the synthetic splits: training draws from `TRAIN_SEED` (seeds (TRAIN_SEED, epoch, i)), validation from
  `VAL_SEED`, the held-out test split from `TEST_SEED` (seeds TEST_SEED + i); none overlaps another.
"""

import os

ARCHITECTURES = ("baseline", "inception", "unet")
INTENSITIES = ("patch", "image", "none")
LIGHTINGS = ("rig", "random", "fixed")
WORLDS = ("standard", "wide", "physical")
TRAIN_SEED = 0
VAL_SEED = 424242
TEST_SEED = 1_000_000_007
# The render shipped with the package (`keras_patchnet.data.load_sample`; its truth lies beside it).
SAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "samples", "cloth.png")


def parse_weights(value):
    """The `--weights` / `pretrained` argument from text: "true" -> True, "false" / "none" -> False (any case);
    anything else (a preset name or tag, a folder, a `.weights.h5` file) unchanged."""
    return {"true": True, "false": False, "none": False}.get(str(value).lower(), value)


def weights_label(value):
    """How a `--weights` value reads in titles and tables: "pretrained", "untrained" or the name given."""
    return {True: "pretrained", False: "untrained"}.get(parse_weights(value), value)
