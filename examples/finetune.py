"""Fine-tune the pretrained UNet on your own captures, then compare it with the start on held-out frames.

    python examples/finetune.py DATA_DIR --out runs/finetuned [--weights true|PRESET|FOLDER] [--minutes 10]

DATA_DIR is laid out like the textureless deformable-surfaces dataset (see `keras_patchnet.data.TexlessDataset`),
as `keras_patchnet.data.write_synthetic` writes it: `<object>/images/<sequence>/rgb_0000.tiff` (or .png),
`<object>/depth_maps/<sequence>/depth_0000.npz` (key "depth", metres, 0 = background or no reading) and, optional,
`<object>/normals/<sequence>/normals_0000.npz` (key "normals", unit, camera frame, towards the camera; derived from
depth when absent) and `<object>/masks/<sequence>/mask_0000.png`. Whole sequences are held out for testing; the
rest goes to `keras_patchnet.training.finetune`, which holds out its own validation frames, keeps the best epoch and
writes a preset folder (the same as `keras-patchnet finetune DATA_DIR --out RUN`).
"""

import argparse

import keras_patchnet as kp
from keras_patchnet.finetuning import plane_ratios


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("data")
    p.add_argument("--out", default="runs/finetuned")
    p.add_argument("--weights", default="true")
    p.add_argument("--minutes", type=float, default=None)
    p.add_argument("--epochs", type=int, default=None)
    args = p.parse_args(argv)

    model = kp.models.unet(pretrained=True if args.weights == "true" else args.weights)
    train, test = kp.data.TexlessDataset(args.data).split(by="sequence")
    before = plane_ratios(model, test)
    minutes = 10.0 if args.minutes is None and args.epochs is None else args.minutes
    result = kp.training.finetune(model, train, args.out, minutes=minutes, epochs=args.epochs)
    reloaded = kp.models.unet(pretrained=result["folder"])  # what a user of the folder gets
    after = plane_ratios(reloaded, test)
    for key in ("depth_ratio", "angle_ratio"):
        print(f"{key} (model / flat plane, held-out sequences): {before[key]:.3f} -> {after[key]:.3f}")
    print(f"saved to {result['folder']}; reload with keras_patchnet.models.unet(pretrained={result['folder']!r})")
    return result, before, after


if __name__ == "__main__":
    main()
