"""`keras-patchnet train`: the recipe of `keras_patchnet.training` (synthetic renders or a dataset folder),
resumable: run the same command again after a stop."""

import json
import os

from keras_patchnet.cli._common import CLIError, add_model_options
from keras_patchnet.constants import parse_weights


def add_training_arguments(parser, skip=("verbose",)):
    """Adds a --option for every entry of `keras_patchnet.training.DEFAULTS` (but `skip`) to an argparse parser."""
    from keras_patchnet.training import DEFAULTS

    kinds = {"lr": float, "time_budget": float, "pretrained": str}
    for key, default in DEFAULTS.items():
        if key not in skip:
            kind = kinds.get(key, int if isinstance(default, int) else str)
            parser.add_argument("--" + key.replace("_", "-"), type=kind, default=default, help=f"default {default}")
    return parser


def add_parser(sub, parents):
    p = sub.add_parser("train", parents=parents, help="train on synthetic renders or a dataset folder (resumable)")
    add_training_arguments(p, skip=("model", "pretrained", "verbose"))
    add_model_options(p, pretrained_default="none")


def run(args):
    from keras_patchnet.data import DataError
    from keras_patchnet.training import DEFAULTS
    from keras_patchnet.training import train as recipe

    options = {k: getattr(args, k) for k in DEFAULTS if hasattr(args, k)}
    options["pretrained"] = parse_weights(args.weights)
    if options["data"] != "synthetic" and not os.path.isdir(options["data"]):
        raise CLIError(f'--data must be "synthetic" or a dataset folder. No such folder: {options["data"]}')
    try:
        result = recipe(**options, verbose=1)
    except (DataError, ValueError) as e:  # a bad option (e.g. --world standard,moon) is named in one line
        raise CLIError(str(e)) from None
    print(json.dumps({k: result[k] for k in ("model", "flat_plane")}, indent=2))
    print(f"Wrote model.weights.h5, config.json, metrics.json and log.csv to {os.path.abspath(args.out)}")
    return 0
