"""`keras-patchnet`: predict, calibrate, evaluate, train, finetune, push, bench (`keras-patchnet COMMAND --help`).

    keras-patchnet predict --sample --out out/predict          # the shipped sample render, pretrained UNet
    keras-patchnet predict photos/ --mask mask.png --out out   # files or folders of images
    keras-patchnet evaluate DATASET_DIR --out out/eval         # metrics table, per-image CSV, error heat maps
    keras-patchnet train --out runs/unet --epochs 20           # synthetic data (or --data DATASET_DIR), resumable
    keras-patchnet finetune DATASET_DIR --out runs/mine      # a preset fine-tuned on your set-up, resumable
    keras-patchnet push runs/unet user/my-patchnet             # model card + upload_folder
    keras-patchnet bench --model unet --size 224
    keras-patchnet calibrate ball.jpg --out light.json          # the light of a set-up from a matte ball

`--backend tensorflow|torch|jax` (before or after the command) picks the Keras backend. Errors print one line and
exit with status 1; bad options exit with status 2. One module per command (`keras_patchnet.cli.<command>`), each
with `add_parser(subparsers, parents)` and `run(args)`.
"""

import argparse
import importlib
import sys

from keras_patchnet.cli._common import BACKENDS, CLIError, Parser, quiet_tensorflow, select_backend
from keras_patchnet.cli.train import add_training_arguments
from keras_patchnet.constants import SAMPLE

COMMANDS = ("predict", "calibrate", "evaluate", "train", "finetune", "push", "bench")
__all__ = ["CLIError", "SAMPLE", "add_training_arguments", "build_parser", "main"]


def _command(name):
    return importlib.import_module(f"keras_patchnet.cli.{name}")


def build_parser():
    parser = Parser(prog="keras-patchnet", description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=BACKENDS, help="Keras backend")
    common = Parser(add_help=False)  # --backend is also accepted after the command
    common.add_argument("--backend", choices=BACKENDS, default=argparse.SUPPRESS, help="Keras backend")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)
    for name in COMMANDS:
        _command(name).add_parser(sub, [common])
    return parser


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    quiet_tensorflow()
    try:
        select_backend(argv)
        args = build_parser().parse_args(argv)
        if args.version:
            from keras_patchnet import __version__

            print(__version__)
            return 0
        if args.command is None:
            build_parser().print_help()
            return 2
        return _command(args.command).run(args)
    except CLIError as e:
        print(f"keras-patchnet: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("keras-patchnet: interrupted", file=sys.stderr)
        return 130
