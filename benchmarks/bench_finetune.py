"""What a few frames buy: `keras-patchnet finetune` on an unseen set-up, as a user would run it, timed on this CPU.

    python benchmarks/bench_finetune.py [--frames 8 32 128] [--starts default scratch] [--minutes 10]
        [--out out/bench_finetune] [--json docs/finetune.json] [--figure docs/images/finetune.png]
    python benchmarks/bench_finetune.py --choose [--minutes 5]     # the schedule's choices, on validation frames
    python benchmarks/bench_finetune.py --frames 32 --starts lit --lit-weights weights/stages/unet.lit-film-l2

The set-up, unseen by every preset: simulated cloth (the physical world of the renderer, 8-bit sRGB images, 224²)
under the calibrated light moved to (-0.6, 0.1, -1) (same power and ambient), depth as a Kinect-like sensor reads it
(noise growing with z², millimetre steps, holes) and no normals: the folders hold what a capture rig gives.
Training folders of 8, 32 and 128 frames (sequences of 8; the command holds whole sequences out for its own
validation); 32 held-out frames of other seeds with exact depth and normals, never seen by the command.

Each run is `keras-patchnet finetune DIR --out RUN --minutes M` (plus `--weights none` from scratch), in a fresh
process, its wall time measured from outside; then the held-out frames are predicted by the start and by RUN with
their silhouette as `--mask`, and each is reported as its ratio to the flat plane (depth MAE, mean angle; below 1
beats the plane). The command's validation curve (ratio against minutes) is kept for the figure.

`--starts lit` starts from a light-conditioned preset (`--lit-weights`) told the set-up's light as a user tells
it: `light.json` calibrated from a matte ball photographed under the set-up's light (`render_ball(..., lights=)`,
`lighting.code_from_ball`), given to the command and to the held-out predictions (`--light light.json`).

`--throughput` runs the command for `--epochs` epochs on the 8-frame folder under each installed backend (a fresh
process each, `--backend`) and reports its speed from the curve: seconds an epoch after the first (16 steps of 16
patches plus the validation pass) and patches trained a second.

`--choose` runs the schedule's candidates (learning rate, patches per step) on the 32-frame folder with `--minutes`
each and reports only validation ratios (the held-out frames are not looked at): the command's own held-back
sequence, or with `--validation-folder` a folder of its own (32 frames in 4 sequences of other seeds, exact maps,
given to the command as `--validation`): one held-back sequence of 8 frames was too small to rank two recipes.
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.abspath(os.path.dirname(__file__)))
sys.path.insert(0, ROOT)
LIGHT = {"direction": (-0.6, 0.1, -1.0)}  # the calibrated light moved; its power and ambient
SEQUENCE = 8
TRAIN_SEED, HELD_OUT_SEED, VALIDATION_SEED = 4100, 4200, 4300


def make_data(out, largest, size=224):
    """Training folders train<N> (the first N frames of one draw) and the held-out folder, unless present."""
    from keras_patchnet.data import write_synthetic

    folders = {}
    for n in sorted({*largest}):
        folder = os.path.join(out, f"train{n}")
        if not os.path.isdir(folder):
            sequences = {"cloth": [f"s{k:02d}" for k in range(n // SEQUENCE)]}
            write_synthetic(
                folder, sequences, SEQUENCE, size, TRAIN_SEED, LIGHT, "physical", normals=False, sensor="kinect"
            )
        folders[n] = folder
    held = os.path.join(out, "held_out")
    if not os.path.isdir(held):
        write_synthetic(held, {"cloth": [f"h{k}" for k in range(4)]}, SEQUENCE, size, HELD_OUT_SEED, LIGHT, "physical")
    return folders, held


def validation_folder(out, size=224):
    """32 frames (4 sequences) of the same set-up from other seeds, with exact maps: for choosing, never for testing."""
    from keras_patchnet.data import write_synthetic

    folder = os.path.join(out, "validation")
    if not os.path.isdir(folder):
        sequences = {"cloth": [f"v{k}" for k in range(4)]}
        write_synthetic(folder, sequences, SEQUENCE, size, VALIDATION_SEED, LIGHT, "physical")
    return folder


def run_command(args, log):
    start = time.time()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    with open(log, "w") as f:
        code = subprocess.call(
            [sys.executable, "-m", "keras_patchnet", *args], stdout=f, stderr=subprocess.STDOUT, env=env
        )
    if code:
        raise SystemExit(f"keras-patchnet {' '.join(args)} failed (exit {code}); see {log}")
    return time.time() - start


def setup_light(out, size=224):
    """light.json of the set-up: a matte ball photographed under its light, calibrated as `calibrate` does."""
    from keras_patchnet import lighting
    from keras_patchnet.data import render
    from keras_patchnet.data.ball import render_ball

    sheet = render(TRAIN_SEED, size, size, lighting=LIGHT, world="physical")
    photo = render_ball(0, size, lights={key: sheet.params[key] for key in ("lights", "ambient")}, encoding="srgb")
    path = os.path.join(out, "light.json")
    lighting.save_light(path, lighting.code_from_ball(photo.image, photo.mask, encoding="srgb"))
    return path


def held_out_ratios(weights, held, light=None):
    import keras_patchnet as kp
    from keras_patchnet.finetuning import plane_ratios
    from keras_patchnet.lighting import load_light

    model = kp.models.unet(pretrained=weights) if weights != "none" else kp.models.create_model("unet")
    return plane_ratios(model, kp.data.TexlessDataset(held), light=load_light(light) if model.light else None)


def read_curve(path):
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def before(r):
    """The start's held-out ratios; from scratch, "random" (an untrained network's maps mean nothing)."""
    if r["start"] == "scratch":
        return "– (random weights)"
    return f"{r['before']['depth_ratio']:.2f} / {r['before']['angle_ratio']:.2f}"


def table(results):
    lines = [
        "| start | frames | minutes (wall) | held-out depth / angle before | after | best epoch / epochs |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['start']} | {r['frames']} | {r['wall_minutes']:.1f} | {before(r)} | "
            f"**{r['after']['depth_ratio']:.2f} / {r['after']['angle_ratio']:.2f}**"
            f" | {r['best_epoch']} / {r['epochs']} |"
        )
    return "\n".join(lines)


def figure(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
    for r in results:
        rows = r["curve"]
        label = f"{r['start']}, {r['frames']} frames"
        for ax, key in zip(axes, ("depth_ratio", "angle_ratio")):
            ax.plot(
                [0] + [row["minutes"] for row in rows],
                [r["validation_before"][key]] + [row[key] for row in rows],
                label=label,
            )
    for ax, title in zip(axes, ("depth MAE / flat plane", "mean angle / flat plane")):
        ax.axhline(1.0, color="grey", lw=0.8, ls="--")
        ax.set_ylim(0, 2)  # an untrained start is far above: its first point is off the chart
        ax.set_xlabel("minutes of `finetune` (2 CPU cores)")
        ax.set_title(title + " (validation frames)", fontsize=9)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def throughput(folder, out, epochs):
    """Per installed backend: the command's epoch time (after the first, which compiles) and patches a second."""
    import importlib.util

    from keras_patchnet.finetuning import SCHEDULE

    rows = []
    for backend in ("tensorflow", "torch", "jax"):
        if importlib.util.find_spec(backend) is None:
            continue
        run = os.path.join(out, f"throughput-{backend}")
        wall = run_command(
            ["finetune", folder, "--out", run, "--epochs", str(epochs), "--backend", backend],
            os.path.join(out, f"throughput-{backend}.log"),
        )
        curve = read_curve(os.path.join(run, "curve.csv"))
        seconds = 60 * (curve[-1]["minutes"] - curve[0]["minutes"]) / (len(curve) - 1)
        patches = SCHEDULE["batch_size"] * SCHEDULE["steps_per_epoch"]
        rows.append(
            {
                "backend": backend,
                "epochs": len(curve),
                "wall_minutes": wall / 60,
                "first_epoch_seconds": 60 * curve[0]["minutes"],
                "seconds_per_epoch": seconds,
                "patches_per_second": patches / seconds,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, nargs="+", default=[8, 32, 128])
    p.add_argument("--starts", nargs="+", default=["default", "scratch"], choices=["default", "scratch", "lit"])
    p.add_argument("--lit-weights", default=None, help="with --starts lit: the light-conditioned preset to start from")
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--out", default=os.path.join(ROOT, "out", "bench_finetune"))
    p.add_argument("--json", default=None, help="append the results to this JSON file")
    p.add_argument("--figure", default=None, help="draw the validation curves into this PNG")
    p.add_argument("--throughput", action="store_true", help="the command's speed per installed backend")
    p.add_argument("--epochs", type=int, default=4, help="with --throughput: epochs a backend runs")
    p.add_argument("--choose", action="store_true", help="compare the schedule's candidates on validation frames")
    p.add_argument("--candidates", nargs="+", help="with --choose: only these candidates (e.g. 'lr 1e-3')")
    p.add_argument(
        "--validation-folder", action="store_true", help="with --choose: validate on a folder of its own (32 frames)"
    )
    args = p.parse_args(argv)
    if any(n % SEQUENCE or n < 2 * SEQUENCE // 2 for n in args.frames):
        raise SystemExit(f"--frames must be multiples of {SEQUENCE}")
    os.makedirs(args.out, exist_ok=True)
    folders, held = make_data(args.out, args.frames + ([32] if args.choose else []))
    if "lit" in args.starts and not args.lit_weights:
        raise SystemExit("--starts lit needs --lit-weights PRESET (a light-conditioned preset)")
    light = setup_light(args.out) if "lit" in args.starts else None
    results = []
    if args.throughput:
        results = throughput(folders[min(args.frames)], args.out, args.epochs)
    elif args.choose:
        candidates = {
            "lr 3e-4": ["--lr", "3e-4", "--decay", "none"],
            "lr 1e-3": ["--lr", "1e-3", "--decay", "none"],
            "lr 1e-4": ["--lr", "1e-4", "--decay", "none"],
            "lr 1e-3 cosine": ["--lr", "1e-3", "--decay", "cosine"],
            "lr 3e-3 cosine": ["--lr", "3e-3", "--decay", "cosine"],
            "lr 1e-3 frozen-bn": ["--lr", "1e-3", "--decay", "none", "--batch-norm", "frozen"],
            "lr 3e-3 frozen-bn": ["--lr", "3e-3", "--decay", "none", "--batch-norm", "frozen"],
            "lr 1e-3 trained-bn": ["--lr", "1e-3", "--decay", "none", "--batch-norm", "train"],
            "lr 3e-4 frozen-bn": ["--lr", "3e-4", "--decay", "none", "--batch-norm", "frozen"],
            "renders 0": ["--renders", "0"],
            "renders 64": ["--renders", "64"],
            "renders 256": ["--renders", "256"],
        }
        extra_validation = ["--validation", validation_folder(args.out)] if args.validation_folder else []
        for name, extra in candidates.items():
            if args.candidates and name not in args.candidates:
                continue
            run = os.path.join(args.out, "choose-" + name.replace(" ", ""))
            wall = run_command(
                ["finetune", folders[32], "--out", run, "--minutes", str(args.minutes), *extra, *extra_validation],
                os.path.join(args.out, f"choose-{name.replace(' ', '')}.log"),
            )
            with open(os.path.join(run, "metadata.json")) as f:
                ft = json.load(f)["finetune"]
            results.append(
                {
                    "choice": name,
                    "wall_minutes": wall / 60,
                    "validation_before": ft["before"],
                    "validation_after": ft["after"],
                    "best_epoch": ft["best_epoch"],
                    "curve": read_curve(os.path.join(run, "curve.csv")),
                }
            )
            print(
                json.dumps({k: results[-1][k] for k in ("choice", "wall_minutes", "best_epoch")}),
                {k: ft["after"][k] for k in ("depth_ratio", "angle_ratio")},
                flush=True,
            )
    else:
        for start in args.starts:
            for n in args.frames:
                run = os.path.join(args.out, f"{start}-{n}")
                weights = {"scratch": ["--weights", "none"], "default": []}.get(start)
                weights = ["--weights", args.lit_weights, "--light", light] if start == "lit" else weights
                first = {"scratch": "none", "default": True}.get(start, args.lit_weights)
                wall = run_command(
                    ["finetune", folders[n], "--out", run, "--minutes", str(args.minutes), *weights],
                    os.path.join(args.out, f"{start}-{n}.log"),
                )
                with open(os.path.join(run, "metadata.json")) as f:
                    meta = json.load(f)
                results.append(
                    {
                        "start": start,
                        "frames": n,
                        "wall_minutes": wall / 60,
                        "before": held_out_ratios(first, held, light),
                        "after": held_out_ratios(run, held, light),
                        "validation_before": meta["finetune"]["before"],
                        "best_epoch": meta["finetune"]["best_epoch"],
                        "epochs": len(read_curve(os.path.join(run, "curve.csv"))),
                        "curve": read_curve(os.path.join(run, "curve.csv")),
                    }
                )
                print(table(results[-1:]).splitlines()[-1], flush=True)
        print(table(results))
    record = {
        "date": time.strftime("%Y-%m-%d"),
        "cpus": os.cpu_count(),
        "minutes": args.minutes,
        "light": LIGHT,
        "results": results,
    }
    if args.figure and not (args.choose or args.throughput):
        figure(results, args.figure)
    if args.json:
        old = json.load(open(args.json)) if os.path.exists(args.json) else []
        with open(args.json, "w") as f:
            json.dump(old + [record], f, indent=1)
    return record


if __name__ == "__main__":
    main()
