"""After the oracle-rig run of `research/lighting_study.py`: can the oracle-rig patch network pick its own rig,
with no learned whole-image estimator? For every validation image it predicts once per rig hypothesis (the 4
one-hot channels set to each rig in turn) and a rule picks one of the four answers:

    shading      the rig whose nominal light directions, with the predicted (stitched) normals, fit the image's grey
                 level best (least squares with a free ambient term and a free power per light; relative residual)
    consistency  the rig whose patch predictions disagree least across the patches' overlaps (mean angle between
                 each patch's normals and the stitched normals, on foreground pixels covered by two patches or more)
    average      no pick: the four answers averaged (depth averaged, normals averaged and re-normalised)

next to the true rig (the oracle) and the most frequent rig of the validation renders. Ratios to the flat plane on
the study's VAL_SEED renders (never the held-out split), stitched without refinement, as in the study's curves.

    python research/rig_selection.py --weights runs/study/oracle-rig-2/model.weights.h5 --json out.json

Also, with the renders' TRUE normals in place of the predictions, how often the shading rule picks the true rig and
prefers the true normals to their convex / concave twin's ((nx, ny, nz) -> (-nx, -ny, nz)): whether the rule could
work at all with a perfect network.
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402


def rig_lights(k):
    """Nominal unit directions towards the lights of the rig with k + 1 lights (point lights as directions)."""
    from keras_patchnet.data.synthetic import RIGS

    rig = next(r for r in RIGS.values() if len(r) == k + 1)
    out = []
    for d, _ in rig:
        d = np.asarray(d, "float64").copy()
        d[2] = min(d[2], -0.2)
        out.append(d / np.linalg.norm(d))
    return np.stack(out)


def shading_residual(image, mask, normals, lights):
    """Relative RMS residual of the least-squares fit grey ~ a + sum_k p_k max(0, n . l_k) on the foreground."""
    grey = image.astype("float64").mean(-1)[mask]
    n = normals[mask].astype("float64")
    design = np.concatenate([np.ones((len(grey), 1)), np.clip(n @ lights.T, 0, None)], 1)
    coef, *_ = np.linalg.lstsq(design, grey, rcond=None)
    return float(np.sqrt(np.mean((grey - design @ coef) ** 2)) / max(grey.std(), 1e-6))


def overlap_disagreement(patch_normals, stitched, mask, grid):
    """Mean angle (deg) between each patch's normals and the stitched normals, over foreground pixels that two or
    more patches cover."""
    from keras_patchnet.data import cut_patches
    from keras_patchnet.ops.patches import coverage

    covered = coverage(grid)[: mask.shape[0], : mask.shape[1], 0]
    where = cut_patches(((covered > 1) & mask)[..., None].astype("float32"), grid)[..., 0] > 0
    ref = cut_patches(stitched, grid)
    pn = patch_normals / np.maximum(np.linalg.norm(patch_normals, axis=-1, keepdims=True), 1e-6)
    cos = np.clip(np.sum(pn * ref, -1), -1, 1)
    return float(np.degrees(np.arccos(cos[where])).mean()) if where.any() else 0.0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--weights", default="runs/study/oracle-rig-2/model.weights.h5")
    p.add_argument("--size", type=int, default=112)
    p.add_argument("--val-images", type=int, default=32)
    p.add_argument("--truth-images", type=int, default=64, help="renders for the true-normals check")
    p.add_argument("--json")
    args = p.parse_args(argv)

    from lighting_study import context_network, oracle_inputs

    from keras_patchnet.data import render
    from keras_patchnet.evaluation import flat_plane
    from keras_patchnet.layers import PatchStitch
    from keras_patchnet.metrics import evaluate_maps
    from keras_patchnet.ops.grid import patch_grid
    from keras_patchnet.training import VAL_SEED

    seeds = range(VAL_SEED, VAL_SEED + max(args.val_images, args.truth_images))
    samples = [render(s, args.size, args.size, lighting="rig") for s in seeds]
    truth_rig = np.asarray([s.params["n_lights"] - 1 for s in samples])

    # With the true normals: could the shading rule work with a perfect network?
    picked, prefers_true = [], []
    for s in samples[: args.truth_images]:
        res = [shading_residual(s.image, s.mask, s.normals, rig_lights(k)) for k in range(4)]
        twin = [shading_residual(s.image, s.mask, s.normals * np.array([-1, -1, 1]), rig_lights(k)) for k in range(4)]
        picked.append(int(np.argmin(res)))
        prefers_true.append(min(res) < min(twin))
    truth_check = dict(
        images=args.truth_images,
        rig_picked_with_true_normals=float(np.mean(np.asarray(picked) == truth_rig[: args.truth_images])),
        true_normals_fit_better_than_twin=float(np.mean(prefers_true)),
    )
    print("true normals:", truth_check)

    samples, truth_rig = samples[: args.val_images], truth_rig[: args.val_images]
    grid = patch_grid(args.size, args.size, 64, 1)
    net = context_network(64, 8, channels=7)
    net.load_weights(args.weights)
    depth_stitch = PatchStitch(64, 1, mode="depth")
    normal_stitch = PatchStitch(64, 1, mode="normals")
    size = (args.size, args.size)
    depth = np.zeros((4, len(samples)) + size + (1,), "float32")
    normals = np.zeros((4, len(samples)) + size + (3,), "float32")
    scores = {"shading": np.zeros((len(samples), 4)), "consistency": np.zeros((len(samples), 4))}
    for k in range(4):
        onehot = 255.0 * np.eye(4)[k]
        for i, s in enumerate(samples):
            out = net.predict_on_batch(oracle_inputs(s.image, onehot, grid, scaled=False))
            depth[k, i] = np.asarray(depth_stitch(out["depth"], output_size=size))[0]
            normals[k, i] = np.asarray(normal_stitch(out["normals"], output_size=size))[0]
            scores["shading"][i, k] = shading_residual(s.image, s.mask, normals[k, i], rig_lights(k))
            scores["consistency"][i, k] = overlap_disagreement(np.asarray(out["normals"]), normals[k, i], s.mask, grid)

    true_depth = np.stack([np.where(s.mask, s.depth - s.depth[s.mask].mean(), 0)[..., None] for s in samples])
    true_normals = np.stack([s.normals for s in samples])
    flat_depth, flat_normals = flat_plane(true_depth, true_normals)
    flat = evaluate_maps(true_depth, flat_depth, true_normals, flat_normals)["mean"]

    def ratios(d, n):
        m = evaluate_maps(true_depth, d, true_normals, n)["mean"]
        return {
            "depth_mae_mm": round(m["depth_mae_mm"] / flat["depth_mae_mm"], 3),
            "mean_angle_deg": round(m["mean_angle_deg"] / flat["mean_angle_deg"], 3),
        }

    def choose(rig):
        idx = np.arange(len(samples))
        return depth[rig, idx], normals[rig, idx]

    frequent = int(np.bincount(truth_rig, minlength=4).argmax())
    result = {"command": "python research/rig_selection.py " + " ".join(argv or sys.argv[1:]), "weights": args.weights}
    result["true_normals_check"] = truth_check
    result["true_rig"] = ratios(*choose(truth_rig))
    result["most_frequent_rig"] = ratios(*choose(np.full(len(samples), frequent)))
    for rule, score in scores.items():
        pick = score.argmin(1)
        result[rule] = dict(ratios(*choose(pick)), accuracy=float(np.mean(pick == truth_rig)))
    mean_normals = normals.mean(0)
    mean_normals /= np.maximum(np.linalg.norm(mean_normals, axis=-1, keepdims=True), 1e-6)
    result["average"] = ratios(depth.mean(0), mean_normals)
    for k in range(4):
        result[f"always_rig_{k + 1}_lights"] = ratios(*choose(np.full(len(samples), k)))
    print(json.dumps(result, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
