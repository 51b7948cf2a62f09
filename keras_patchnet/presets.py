"""THE table of pretrained weights: `<arch>.<tag>` -> where the files live and what they are.

Each entry: `arch`, `repo_id` and pinned 40-hex `revision` on the Hugging Face Hub (None while unpublished: then
only a source checkout's `weights/<name>/` folder or an explicit path loads it), `files` with sha256, the
constructor `config`, `trainable_params`, `input_contract`, `training` (data, recipe command, hardware, time),
`metrics` on the held-out synthetic split with the `metrics_command` that measured them, and `license`.
The README's weights table is generated from it (`python -m keras_patchnet.presets`).
"""

PRESETS = {
    "baseline.synthetic-calibrated": {
        "arch": "baseline",
        "repo_id": "keras-patchnet/baseline.synthetic-calibrated",
        "revision": None,
        "files": {
            "config.json": "22a4a4efb04283faaa8fabc2d17806b15fcbacc6447d65724002301f1bef8e87",
            "model.weights.h5": "259f4d4826a711a6ba346f4fb432d790a300f2c6697412225e65c8d383b67509",
        },
        "config": {
            "arch": "baseline",
            "patch_size": 64,
            "width": 8,
            "min_overlap": 32,
            "intensity": "none",
            "working_width": 112,
        },
        "trainable_params": 768204,
        "input_contract": "RGB images (B, H, W, 3), any size, with an optional foreground mask (B, H, W, 1) (1 surface, 0 background). uint8 is read as is (0-255); uint16 is scaled by 255 / 65535; other integers and floats are read on the 0-255 scale; bool is refused; NaN or inf pixels are read as background. This preset reads absolute brightness (intensity='none'): multiply a [0, 1] float image by 255 (predict warns when every value is <= 1), and expect another exposure to change the answer. Trained on 112x112 renders with patches of 64 (a surface of about 0.3 m at 1.0-1.4 m filling about half the image), lighting='fixed'; other lights are outside what it was trained for. Images are resized to a width of 112 pixels (the training scale; the maps come back at the input's size), so image size does not change the answer for a surface that fills the frame as in training; pass working_width=None to run at native resolution.",
        "training": {
            "data": "synthetic renders (112x112, lighting='fixed'), new renders every epoch, seeds "
            "(TRAIN_SEED=0, epoch, i)",
            "recipe": "python examples/train_from_scratch.py --model baseline --epochs 40 --steps 100 "
            "--batch-size 8 --image-size 112 --patch-size 64 --width 8 --min-overlap 1 --lr 0.002 "
            "--lighting fixed --intensity none --val-images 64 --test-images 64 --time-budget 45.0 "
            "--jit-compile true --bn-batches 0",
            "hardware": "this project's 2-core CPU (TensorFlow 2.21 CPU, XLA), no GPU",
            "time": "46 min (sharing the CPU with other runs)",
        },
        "metrics": {
            "model": {
                "depth_mae_mm": {"mean": 25.942640489546303, "std": 15.151314876391915},
                "depth_rmse_mm": {"mean": 31.381949951134033, "std": 17.741815519962554},
                "mean_angle_deg": {"mean": 23.057388869612325, "std": 8.486042116302647},
                "median_angle_deg": {"mean": 21.662172088152364, "std": 8.929649071678215},
                "under_11.25_deg": {"mean": 0.21968036554835435, "std": 0.20452478447325356},
                "under_22.5_deg": {"mean": 0.560272873618192, "std": 0.27243321411486204},
                "under_30_deg": {"mean": 0.7284962376664077, "std": 0.23712501117147508},
            },
            "flat_plane": {
                "depth_mae_mm": {"mean": 36.37790037641949, "std": 16.386582823862838},
                "depth_rmse_mm": {"mean": 43.77782948333045, "std": 19.23413243439501},
                "mean_angle_deg": {"mean": 30.543487658495103, "std": 7.703642079355248},
                "median_angle_deg": {"mean": 29.484493770748582, "std": 8.252702256986717},
                "under_11.25_deg": {"mean": 0.07255057046546282, "std": 0.1359343054377319},
                "under_22.5_deg": {"mean": 0.30132723972520603, "std": 0.24975101365823957},
                "under_30_deg": {"mean": 0.5038519494602935, "std": 0.25111994982315666},
            },
        },
        "metrics_command": "python tools/evaluate_synthetic.py --model baseline --weights "
        "baseline.synthetic-calibrated --images 64 --size 112 --lighting fixed",
        "license": "apache-2.0",
    },
    "inception.synthetic-calibrated": {
        "arch": "inception",
        "repo_id": "keras-patchnet/inception.synthetic-calibrated",
        "revision": None,
        "files": {
            "config.json": "021c8489f6dc8c7ac623bef9b78acd519ae28f0122201b03749f2db66b695dad",
            "model.weights.h5": "3fe44310ed7f9a0ef09980960f601a65b802844ec5f29d0ce29b8520e75ac2ea",
        },
        "config": {
            "arch": "inception",
            "patch_size": 128,
            "width": 8,
            "min_overlap": 64,
            "network_kwargs": {"encoder_activation": "relu"},
            "working_width": 224,
            "intensity": "none",
        },
        "trainable_params": 10756132,
        "input_contract": "RGB images (B, H, W, 3), any size, with an optional foreground mask (B, H, W, 1) (1 surface, 0 background). uint8 is read as is (0-255); uint16 is scaled by 255 / 65535; other integers and floats are read on the 0-255 scale; bool is refused; NaN or inf pixels are read as background. This preset reads absolute brightness (intensity='none'): multiply a [0, 1] float image by 255 (predict warns when every value is <= 1), and expect another exposure to change the answer. Trained on 224x224 renders with patches of 128 (a surface of about 0.3 m at 1.0-1.4 m filling about half the image), lighting='fixed'; other lights are outside what it was trained for. Images are resized to a width of 224 pixels (the training scale; the maps come back at the input's size), so image size does not change the answer for a surface that fills the frame as in training; pass working_width=None to run at native resolution.",
        "training": {
            "data": "synthetic renders (224x224, lighting='fixed'), new renders every epoch, seeds "
            "(TRAIN_SEED=0, 2, epoch, i)",
            "recipe": "stage 1: python examples/train_from_scratch.py --model inception --out "
            "runs/inception-calibrated --epochs 40 --steps 50 --batch-size 4 --image-size 224 "
            "--patch-size 128 --width 8 --min-overlap 1 --lr 0.002 --lighting fixed --intensity "
            "none --val-images 64 --test-images 32 --seed 0 --time-budget 45.0 --jit-compile true "
            "--bn-batches 0; then stage 2: python examples/train_from_scratch.py --model inception "
            "--out runs/inception-stage2 --epochs 40 --steps 25 --batch-size 8 --image-size 224 "
            "--patch-size 128 --width 8 --min-overlap 1 --lr 0.0005 --lighting fixed --intensity "
            "none --val-images 64 --test-images 32 --seed 2 --time-budget 100.0 --jit-compile auto "
            "--pretrained runs/inception-calibrated --bn-batches 50",
            "hardware": "this project's 2-core CPU (TensorFlow 2.21 CPU, XLA), no GPU",
            "time": "108 min (46 + 62, sharing the CPU with other runs)",
        },
        "metrics": {
            "model": {
                "depth_mae_mm": {"mean": 27.64236804929277, "std": 16.875712345498226},
                "depth_rmse_mm": {"mean": 33.43772457200384, "std": 19.575008743374685},
                "mean_angle_deg": {"mean": 23.74553424945205, "std": 8.987916479924875},
                "median_angle_deg": {"mean": 22.560553500110046, "std": 9.741546094225775},
                "under_11.25_deg": {"mean": 0.2330200411350243, "std": 0.22349665247611253},
                "under_22.5_deg": {"mean": 0.5157928916701577, "std": 0.30840333021449423},
                "under_30_deg": {"mean": 0.6720130098531002, "std": 0.25835010406626174},
            },
            "flat_plane": {
                "depth_mae_mm": {"mean": 34.42844778027246, "std": 15.947073108786984},
                "depth_rmse_mm": {"mean": 41.3163410161884, "std": 18.563067445169555},
                "mean_angle_deg": {"mean": 29.690570982868874, "std": 6.502611768489205},
                "median_angle_deg": {"mean": 28.988637120984265, "std": 7.093397049353294},
                "under_11.25_deg": {"mean": 0.06276282840319246, "std": 0.09815302827104778},
                "under_22.5_deg": {"mean": 0.3038365844247187, "std": 0.22943966315146494},
                "under_30_deg": {"mean": 0.5195471894889543, "std": 0.2273572214199305},
            },
        },
        "metrics_command": "python tools/evaluate_synthetic.py --model inception --weights "
        "inception.synthetic-calibrated --images 32 --size 224 --lighting fixed",
        "license": "apache-2.0",
    },
    "unet.synthetic-calibrated": {
        "arch": "unet",
        "repo_id": "keras-patchnet/unet.synthetic-calibrated",
        "revision": None,
        "files": {
            "config.json": "9498c5adfe3cb1cd2a4917248fa6150eae195a8894bb04604b6d4860202f8558",
            "model.weights.h5": "fb3a362b4334e167742272d545ea081db26f005f5ed49a4929fcc1c7f118cadb",
        },
        "config": {
            "arch": "unet",
            "patch_size": 64,
            "width": 8,
            "min_overlap": 32,
            "intensity": "none",
            "working_width": 112,
        },
        "trainable_params": 1005644,
        "input_contract": "RGB images (B, H, W, 3), any size, with an optional foreground mask (B, H, W, 1) (1 surface, 0 background). uint8 is read as is (0-255); uint16 is scaled by 255 / 65535; other integers and floats are read on the 0-255 scale; bool is refused; NaN or inf pixels are read as background. This preset reads absolute brightness (intensity='none'): multiply a [0, 1] float image by 255 (predict warns when every value is <= 1), and expect another exposure to change the answer. Trained on 112x112 renders with patches of 64 (a surface of about 0.3 m at 1.0-1.4 m filling about half the image), lighting='fixed'; other lights are outside what it was trained for. Images are resized to a width of 112 pixels (the training scale; the maps come back at the input's size), so image size does not change the answer for a surface that fills the frame as in training; pass working_width=None to run at native resolution.",
        "training": {
            "data": "synthetic renders (112x112, lighting='fixed'), new renders every epoch, seeds "
            "(TRAIN_SEED=0, 1, 3, 4, 5, epoch, i)",
            "recipe": "stage 1: python examples/train_from_scratch.py --model unet --out runs/unet-calibrated "
            "--epochs 70 --steps 100 --batch-size 8 --image-size 112 --patch-size 64 --width 8 "
            "--min-overlap 1 --lr 0.002 --lighting fixed --intensity none --val-images 64 "
            "--test-images 64 --seed 0 --time-budget 50.0 --jit-compile true --bn-batches 0; then "
            "stage 2: python examples/train_from_scratch.py --model unet --out runs/unet-stage2 "
            "--epochs 60 --steps 100 --batch-size 8 --image-size 112 --patch-size 64 --width 8 "
            "--min-overlap 1 --lr 0.001 --lighting fixed --intensity none --val-images 64 "
            "--test-images 64 --seed 1 --time-budget 100.0 --jit-compile auto --pretrained "
            "runs/unet-calibrated --bn-batches 0; then stage 3: python examples/train_from_scratch.py "
            "--model unet --out runs/unet-stage3 --epochs 70 --steps 50 --batch-size 16 --image-size "
            "112 --patch-size 64 --width 8 --min-overlap 1 --lr 0.0005 --lighting fixed --intensity "
            "none --val-images 64 --test-images 64 --seed 3 --time-budget 56.0 --jit-compile auto "
            "--pretrained runs/unet-stage2 --bn-batches 50; then stage 4: python "
            "examples/train_from_scratch.py --model unet --out runs/unet-stage4 --epochs 40 --steps 50 "
            "--batch-size 16 --image-size 112 --patch-size 64 --width 8 --min-overlap 1 --lr 0.0003 "
            "--lighting fixed --intensity none --val-images 64 --test-images 64 --seed 4 --time-budget "
            "19.0 --jit-compile auto --pretrained runs/unet-stage3 --bn-batches 50; then stage 5: "
            "python examples/train_from_scratch.py --model unet --out runs/unet-stage5 --epochs 190 "
            "--steps 50 --batch-size 16 --image-size 112 --patch-size 64 --width 8 --min-overlap 1 "
            "--lr 0.0003 --lighting fixed --intensity none --val-images 64 --test-images 64 --seed 5 "
            "--time-budget 80.0 --jit-compile auto --pretrained runs/unet-stage4 --bn-batches 50",
            "hardware": "this project's 2-core CPU (TensorFlow 2.21 CPU, XLA), no GPU",
            "time": "233 min (51 + 49 + 40 + 20 + 73; the first two sharing the CPU with other runs)",
        },
        "metrics": {
            "model": {
                "depth_mae_mm": {"mean": 16.645334770050283, "std": 10.869774985829167},
                "depth_rmse_mm": {"mean": 20.224857588332423, "std": 12.803715791088237},
                "mean_angle_deg": {"mean": 13.31029168494479, "std": 6.749140981495702},
                "median_angle_deg": {"mean": 11.614167942207729, "std": 6.57885817962292},
                "under_11.25_deg": {"mean": 0.5404607650475498, "std": 0.2559995882998589},
                "under_22.5_deg": {"mean": 0.8485837335617816, "std": 0.2146239342409519},
                "under_30_deg": {"mean": 0.9237505364301547, "std": 0.14367998477175867},
            },
            "flat_plane": {
                "depth_mae_mm": {"mean": 36.37790037641949, "std": 16.386582823862838},
                "depth_rmse_mm": {"mean": 43.77782948333045, "std": 19.23413243439501},
                "mean_angle_deg": {"mean": 30.543487658495103, "std": 7.703642079355248},
                "median_angle_deg": {"mean": 29.484493770748582, "std": 8.252702256986717},
                "under_11.25_deg": {"mean": 0.07255057046546282, "std": 0.1359343054377319},
                "under_22.5_deg": {"mean": 0.30132723972520603, "std": 0.24975101365823957},
                "under_30_deg": {"mean": 0.5038519494602935, "std": 0.25111994982315666},
            },
        },
        "metrics_command": "python tools/evaluate_synthetic.py --model unet --weights unet.synthetic-calibrated --images "
        "64 --size 112 --lighting fixed",
        "license": "apache-2.0",
    },
}


def list_pretrained(arch=None):
    """Names of the pretrained weights, optionally only those of one architecture."""
    return sorted(name for name, p in PRESETS.items() if arch is None or p["arch"] == arch)


def _split(preset):
    """ "64 renders, 112²" from the metrics command (`--images N --size S`)."""
    words = preset["metrics_command"].split()
    return f"{words[words.index('--images') + 1]} renders, {words[words.index('--size') + 1]}²"


def markdown_table():
    rows = [
        "| name | params | depth MAE (mm) | mean angle (°) | flat plane: MAE / angle | held-out split | trained on | Hub |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in list_pretrained():
        p = PRESETS[name]
        m, flat = p["metrics"]["model"], p["metrics"]["flat_plane"]
        hub = f"`{p['repo_id']}@{p['revision'][:7]}`" if p.get("revision") else "not published"
        rows.append(
            f"| `{name}` | {p['trainable_params']:,} | {m['depth_mae_mm']['mean']:.1f} ± {m['depth_mae_mm']['std']:.1f} | "
            f"{m['mean_angle_deg']['mean']:.1f} ± {m['mean_angle_deg']['std']:.1f} | "
            f"{flat['depth_mae_mm']['mean']:.1f} / {flat['mean_angle_deg']['mean']:.1f} | {_split(p)} | "
            f"{p['training']['hardware']}, "
            f"{p['training']['time']} | {hub} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
