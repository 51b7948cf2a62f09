"""`keras-patchnet evaluate`: metrics on a dataset folder (the real dataset's layout), next to the flat plane."""

import csv
import io
import json
import os

from keras_patchnet._atomic import write_text
from keras_patchnet.cli._common import CLIError, add_model_options, check_writable_folder, load_model
from keras_patchnet.constants import weights_label


def add_parser(sub, parents):
    p = sub.add_parser("evaluate", parents=parents, help="metrics on a dataset folder (the real dataset's layout)")
    p.add_argument("dataset", help="dataset folder: <object>/{images,depth_maps,normals}/<sequence>/...")
    p.add_argument(
        "--split",
        choices=("all", "test"),
        default="all",
        help='"test": only the held-out sequences of the default sequence split (default all)',
    )
    p.add_argument("--out", default="out/evaluate")
    p.add_argument("--figures", type=int, default=8, help="error heat-map figures to write (default 8)")
    add_model_options(p)


def run(args):
    from keras_patchnet.data import DataError, TexlessDataset
    from keras_patchnet.evaluation import evaluate_dataset

    try:
        dataset = TexlessDataset(args.dataset)
        if args.split == "test":
            dataset = dataset.split(by="sequence")[1]
    except (FileNotFoundError, DataError, ValueError) as e:
        raise CLIError(str(e)) from None
    check_writable_folder(args.out)
    model = load_model(args)
    try:
        result = evaluate_dataset(
            model, dataset, verbose=1, figures_dir=os.path.join(args.out, "figures"), max_figures=args.figures
        )
    except DataError as e:
        raise CLIError(str(e)) from None
    rows = result.pop("per_image")
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_text(os.path.join(args.out, "per_image.csv"), table.getvalue())
    write_text(os.path.join(args.out, "metrics.json"), json.dumps(result, indent=2))
    print(
        f"\n{result['num_images']} images of {args.dataset} ({args.split}), {args.model} "
        f"({weights_label(args.weights)})\n"
    )
    print("| metric | model | flat plane |\n|---|---|---|")
    for key, value in result["model"].items():
        flat = result["flat_plane"][key]
        print(f"| {key} | {value['mean']:.3f} ± {value['std']:.3f} | {flat['mean']:.3f} ± {flat['std']:.3f} |")
    print(f"\nWrote metrics.json, per_image.csv and figures/ to {os.path.abspath(args.out)}")
    return 0
