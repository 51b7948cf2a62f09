"""`keras-patchnet finetune`: a preset fine-tuned on frames of one's own set-up (`keras_patchnet.finetuning`).

    keras-patchnet finetune DATASET_DIR --out RUN [--weights PRESET] [--minutes M] [--light light.json]

DATASET_DIR is in the layout `keras_patchnet.data.TexlessDataset` reads (images with depth; normals and masks
optional). RUN becomes a preset folder: `--weights RUN` and `unet(pretrained=RUN)` load it. Run the same command
again after a stop to resume. Without `--backend` or KERAS_BACKEND, the fastest backend installed for training on a
CPU is used (TensorFlow, then PyTorch, then JAX; docs/speed.md).
"""

import os
import time

from keras_patchnet.cli._common import (
    CLIError,
    add_model_options,
    check_writable_folder,
)  # noqa: F401


def add_parser(sub, parents):
    p = sub.add_parser("finetune", parents=parents, help="fine-tune a preset on frames of your own set-up")
    p.add_argument("data", metavar="DATASET_DIR", help="frames with depth, in the layout TexlessDataset reads")
    p.add_argument("--out", required=True, help="the run folder to write (a preset folder at the end)")
    add_model_options(p)
    p.add_argument("--minutes", type=float, help="wall-time budget of the whole command (default 10 without --epochs)")
    p.add_argument("--epochs", type=int, help="the most epochs to train")
    p.add_argument("--validation", help="a folder of validation frames (default: held out of DATASET_DIR)")
    p.add_argument(
        "--light",
        help="the set-up's light.json (keras-patchnet calibrate): read by a light-conditioned preset, else recorded",
    )
    p.add_argument("--lr", type=float, help="learning rate (default: the measured schedule's)")
    p.add_argument("--decay", choices=("cosine", "none"), help="learning-rate decay (default: the measured schedule's)")
    p.add_argument(
        "--batch-norm",
        choices=("train", "frozen"),
        help="BatchNorm keeps the start's statistics (frozen: the measured schedule's) or learns (train: the "
        "default with --weights none)",
    )
    p.add_argument(
        "--renders",
        type=int,
        help="renders of the package's sheets under the set-up's light (fitted from the frames) to mix with them "
        "(0: the frames alone; default: the measured schedule's)",
    )


def run(args):
    start = time.time()
    from keras_patchnet.data import DataError

    for option, folder in (("DATASET_DIR", args.data), ("--validation", args.validation)):
        if folder is not None and not os.path.isdir(folder):
            raise CLIError(f"{option}: no such folder: {folder}")
    if args.minutes is not None and not args.minutes > 0:
        raise CLIError(f"--minutes must be > 0. Received: {args.minutes}")
    if args.renders is not None and args.renders < 0:
        raise CLIError(f"--renders must be >= 0. Received: {args.renders}")
    if args.epochs is not None and args.epochs < 1:
        raise CLIError(f"--epochs must be >= 1. Received: {args.epochs}")
    minutes = 10.0 if args.minutes is None and args.epochs is None else args.minutes
    light = None
    if args.light is not None:
        from keras_patchnet import lighting

        try:
            light = lighting.load_light(args.light)
        except (OSError, lighting.LightError) as e:
            raise CLIError(f"--light {args.light}: {e}") from None
    check_writable_folder(args.out)
    try:
        from keras_patchnet.data import TexlessDataset

        data = TexlessDataset(args.data)
        validation = None if args.validation is None else TexlessDataset(args.validation)
    except (DataError, FileNotFoundError) as e:
        raise CLIError(str(e)) from None
    from keras_patchnet.cli._common import load_model
    from keras_patchnet.constants import parse_weights
    from keras_patchnet.finetuning import finetune

    model = load_model(args)
    if model.light and light is None:
        raise CLIError(
            f"--weights {args.weights}: this preset is light-conditioned; give the set-up's --light light.json"
        )
    if light is not None and not model.light:
        print("note: this preset takes no light input; the light is recorded in the run's card")
    try:
        result = finetune(
            model,
            data,
            args.out,
            minutes=minutes,
            epochs=args.epochs,
            validation=validation,
            lr=args.lr,
            decay=args.decay,
            batch_norm=args.batch_norm or ("train" if parse_weights(args.weights) is False else None),
            light=light,
            renders=args.renders,
            start_time=start,
            name=f"{args.model}.finetuned",
        )
    except (DataError, ValueError) as e:
        raise CLIError(str(e)) from None
    print(f"Load it with --weights {args.out} or keras_patchnet.models.{args.model}(pretrained={args.out!r})")
    return 0 if result else 1
