"""A stage of the UNet toward the physically based world: the calibrated preset, switched to read 8-bit sRGB
(`input_encoding="srgb"`), trained on renders of simulated cloth (`world="physical"`) under the calibrated light,
its epoch chosen on the physically based validation set (path-traced, never the test set).

    python tools/physical_stage.py --out runs/unet-physical-p1 [--frames 1024] [--minutes 50] [--start true]
        [--lr LR] [--decay cosine] [--own-frames N] [--batch-norm train|frozen]

Writes once, beside `--out`: `physical-train/` (`--frames` renders of 224², `kp.data.write_synthetic(...,
lighting="fixed", world="physical")`, exact depth and normals) and `physical-validation/` (the calibrated-light
images of `data/physical/validation` with their exact maps, in the layout `kp.data.TexlessDataset` reads). Then
`kp.training.finetune` (its recipe: random 64² patches, Adam at a constant rate, the epoch with the lowest mean
validation ratio to the flat plane kept) for `--minutes`; run again with the same `--out` and it resumes from its
checkpoint, so a stage can run in parts. The result is a preset folder: `--weights RUN`, or
`python benchmarks/bench_physical.py --weights RUN` once a stage is to be judged on the test set.
"""

import argparse
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

TRAIN_SEED = 7100  # renderer seeds of its own (the package's held-out renders use TEST_SEED and VAL_SEED)
OWN_SEED = 7200
SEQUENCE = 16


def validation_folder(folder):
    """The calibrated-light images of the physically based validation set as a TexlessDataset folder."""
    from bench_physical import load_split
    from PIL import Image

    from keras_patchnet.data.lights import intrinsics

    if os.path.isdir(folder):
        return folder
    items, maps, _ = load_split("validation")
    tmp = folder + ".tmp"
    for kind in ("images", "depth_maps", "normals", "masks"):
        os.makedirs(os.path.join(tmp, "physical", kind, "val"), exist_ok=True)
    chosen = [(path, i) for path, light, _, i in items if light == "calibrated"]
    for frame, (path, i) in enumerate(chosen):
        base = os.path.join(tmp, "physical", "{}", "val", f"{{}}_{frame:04d}")
        Image.open(path).convert("RGB").save(base.format("images", "rgb") + ".png")
        np.savez_compressed(base.format("depth_maps", "depth"), depth=maps["depth"][i].astype("float32"))
        np.savez_compressed(base.format("normals", "normals"), normals=maps["normals"][i].astype("float32"))
        Image.fromarray(maps["mask"][i].astype("uint8") * 255).save(base.format("masks", "mask") + ".png")
    height, width = maps["mask"].shape[1:]
    np.savetxt(os.path.join(tmp, "camera_intrinsics.txt"), intrinsics(height, width))
    os.replace(tmp, folder)
    return folder


def train_folder(folder, frames):
    from keras_patchnet.data import write_synthetic

    if not os.path.isdir(folder):
        sequences = {"cloth": [f"p{k:03d}" for k in range(frames // SEQUENCE)]}
        write_synthetic(folder + ".tmp", sequences, SEQUENCE, 224, TRAIN_SEED, "fixed", "physical")
        os.replace(folder + ".tmp", folder)
    return folder


def own_folder(folder, frames):
    """Renders of the package's own world (procedural cloth, paper and garments) under the calibrated light, written
    through the sRGB curve as the physical world's are: mixed into training so the stage keeps what the default
    knows of its own renders."""
    from keras_patchnet.data import write_synthetic

    if not os.path.isdir(folder):
        per = frames // SEQUENCE
        sequences = {
            "cloth": [f"o{k:03d}" for k in range(per - 2 * (per // 3))],
            "paper": [f"q{k:03d}" for k in range(per // 3)],
            "tshirt": [f"g{k:03d}" for k in range(per // 3)],
        }
        write_synthetic(folder + ".tmp", sequences, SEQUENCE, 224, OWN_SEED, "fixed", "standard", encoding="srgb")
        os.replace(folder + ".tmp", folder)
    return folder


def mixed_folder(folder, parts):
    """One dataset folder whose objects are links to the objects of `parts` (folders of the same camera)."""
    if not os.path.isdir(folder):
        os.makedirs(folder + ".tmp")
        for part in parts:
            for obj in sorted(os.listdir(part)):
                if os.path.isdir(os.path.join(part, obj)):
                    name = obj if not os.path.exists(os.path.join(folder + ".tmp", obj)) else f"{obj}-own"
                    os.symlink(os.path.abspath(os.path.join(part, obj)), os.path.join(folder + ".tmp", name))
        os.link(os.path.join(parts[0], "camera_intrinsics.txt"), os.path.join(folder + ".tmp", "camera_intrinsics.txt"))
        os.replace(folder + ".tmp", folder)
    return folder


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--frames", type=int, default=1024)
    p.add_argument("--minutes", type=float, default=50.0)
    p.add_argument("--start", default="true", help="the start: a preset (true: the default) or a run folder")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--decay", default=None, choices=["none", "cosine"], help="the rate's decay over --minutes")
    p.add_argument(
        "--batch-norm",
        default="train",
        choices=["train", "frozen"],
        help="BatchNorm learns the new world's statistics (train: as stages P1 and P2 ran) or keeps the start's",
    )
    p.add_argument(
        "--own-frames",
        type=int,
        default=0,
        help="renders of the package's own world (sRGB, calibrated light) mixed into training",
    )
    args = p.parse_args(argv)
    import keras_patchnet as kp
    from keras_patchnet.constants import parse_weights

    parent = os.path.dirname(os.path.abspath(args.out))
    train = train_folder(os.path.join(parent, f"physical-train-{args.frames}"), args.frames)
    if args.own_frames:
        own = own_folder(os.path.join(parent, f"own-train-{args.own_frames}"), args.own_frames)
        train = mixed_folder(os.path.join(parent, f"mixed-train-{args.frames}-{args.own_frames}"), [train, own])
    val = validation_folder(os.path.join(parent, "physical-validation"))
    model = kp.models.unet(pretrained=parse_weights(args.start), input_encoding="srgb")
    result = kp.training.finetune(
        model,
        train,
        args.out,
        minutes=args.minutes,
        validation=val,
        lr=args.lr,
        decay=args.decay,
        batch_norm=args.batch_norm,
        name="unet.physical-calibrated",
        verbose=1,
    )
    print({k: result[k] for k in ("epochs", "best_epoch", "before", "after")})


if __name__ == "__main__":
    main()
