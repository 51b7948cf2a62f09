"""The recipe that produced the shipped weights: train a PatchNet on the synthetic renderer, resumably.

    python examples/train_from_scratch.py --model unet --out runs/unet-calibrated --image-size 112 \
        --patch-size 64 --batch-size 8 --steps 100 --epochs 70 --lr 2e-3 --lighting fixed --intensity none \
        --time-budget 50 --jit-compile true

(the same as `keras-patchnet train ...` with these options) is the shipped UNet's first stage; its later stages
are runs of the same script started from the previous stage's weights (`--pretrained runs/unet-calibrated
--out runs/unet-stage2 --seed 1 --lr 1e-3 ...`). Rerunning a command after a stop resumes from the last finished
epoch; rerunning it after it finished recomputes the BatchNorm statistics and the held-out metrics. See
`keras_patchnet.training` for what the recipe does; every preset's card and `metadata.json` list the exact
command of each stage.
"""

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parse_args(argv=None):
    from keras_patchnet.cli import add_training_arguments
    from keras_patchnet.constants import parse_weights

    args = add_training_arguments(argparse.ArgumentParser(description=__doc__.split("\n")[0])).parse_args(argv)
    args.pretrained = parse_weights(args.pretrained)
    return args


def main(argv=None):
    from keras_patchnet.training import train

    result = train(**vars(parse_args(argv)), verbose=2)
    print(json.dumps({k: result[k] for k in ("model", "flat_plane")}, indent=2))
    return result


if __name__ == "__main__":
    main()
