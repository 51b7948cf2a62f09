"""how the rig-conditioned networks of `research/lighting_study.py` (oracle-rig variants) score when their
patches are stitched as `PatchNet` does with a mask: the depth offsets solved on the foreground only, then the
bilateral refinement (the defaults of `PatchNet`: diameter 5, sigma_space 1.5, depth sigma_range 0.05 m, normals
0.3), against the study's curves, which stitch without a mask and do not refine.

    python research/oracle_stitch_eval.py --width 12 --json docs/lighting-study/stitch-with-mask.json \
        oracle-rig-w12 oracle-rig-w12-patches oracle-rig-w12-e2e

Ratios to the flat plane (depth MAE, mean angle) on the study's 32 VAL_SEED renders (112², lighting="rig", the true
rig as input): the validation split, never the held-out one.
"""

import argparse
import json
import os
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+", help="run folders under --study holding model.weights.h5")
    p.add_argument("--study", default="runs/study")
    p.add_argument("--width", type=int, default=8)
    p.add_argument("--size", type=int, default=112)
    p.add_argument("--val-images", type=int, default=32)
    p.add_argument("--json")
    args = p.parse_args(argv)

    import lighting_study as study

    from keras_patchnet.data import render
    from keras_patchnet.evaluation import flat_plane
    from keras_patchnet.layers import BilateralRefine, PatchStitch
    from keras_patchnet.metrics import evaluate_maps
    from keras_patchnet.ops.grid import patch_grid
    from keras_patchnet.training import VAL_SEED

    size = (args.size, args.size)
    samples = [render(s, *size, lighting="rig") for s in range(VAL_SEED, VAL_SEED + args.val_images)]
    grid = patch_grid(*size, 64, 1)
    depth = np.stack([s.depth for s in samples])[..., None].astype("float32")
    normals = np.stack([s.normals for s in samples]).astype("float32")
    mask = np.stack([s.mask for s in samples])[..., None].astype("float32")
    flat_depth, flat_normals = flat_plane(depth, normals)
    flat = evaluate_maps(depth, flat_depth, normals, flat_normals)["mean"]

    def ratios(d, n):
        m = evaluate_maps(depth, d, normals, n)["mean"]
        return [
            round(m["depth_mae_mm"] / flat["depth_mae_mm"], 3),
            round(m["mean_angle_deg"] / flat["mean_angle_deg"], 3),
        ]

    x = np.concatenate([study.oracle_inputs(s.image, study.oracle_rig(s), grid, False) for s in samples])
    results = {}
    for name in args.runs:
        net = study.context_network(64, args.width, channels=7)
        net.load_weights(os.path.join(args.study, name, "model.weights.h5"))
        out = net.predict(x, batch_size=64, verbose=0)
        plain = np.asarray(PatchStitch(64, 1, mode="depth")(out["depth"], output_size=size))
        masked = np.asarray(PatchStitch(64, 1, mode="depth")(out["depth"], output_size=size, foreground=mask))
        n = np.asarray(PatchStitch(64, 1, mode="normals")(out["normals"], output_size=size))
        row = {"stitched": ratios(plain, n), "stitched with the mask": ratios(masked, n)}
        for region in ("seams", "all"):
            kw = dict(diameter=5, sigma_space=1.5, region=region, patch_size=64, min_overlap=1)
            d = np.asarray(BilateralRefine(sigma_range=0.05, **kw)(masked, foreground=mask))
            r = np.asarray(BilateralRefine(sigma_range=0.3, renormalize=True, **kw)(n, foreground=mask))
            row[f"mask + refine {region}"] = ratios(d, r)
        results[name] = row
        print(name, row, flush=True)
    if args.json:
        command = "python research/oracle_stitch_eval.py " + " ".join(argv if argv is not None else sys.argv[1:])
        with open(args.json, "w") as f:
            json.dump({"command": command, "ratios_depth_angle": results}, f, indent=1)


if __name__ == "__main__":
    main()
