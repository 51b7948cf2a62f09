"""Does an image fit the light a preset assumes? Signals from the preset's own prediction, and how well each
separates the images where the preset beats the flat plane from those where it does not.

    python research/light_fit.py [--weights true] [--images 64] [--json out/light_fit.json]

Images: held-out renders at 224² under the calibrated (fixed), rig and random lights (the package's renderer,
linear pixels), the physically based set's sRGB PNGs under its calibrated, lamps and distant lights (read as a user
would: as the preset's input contract says). Signals per image, from the preset's predicted normals and depth:
- `residual` and `light_difference` of `keras_patchnet.lighting.light_fit` under the calibrated light;
- `consistency`: the mean angle between the predicted normals and normals derived from the predicted depth;
- `overlap_normals`, `overlap_depth`: how much the patches disagree where they overlap, before stitching: the mean
  angle between each patch's normals and the stitched (averaged) normals, and the RMS of each patch's depth about the
  stitched depth after its best offset, over the stitched depth's spread (scale-free), both over the foreground.
A threshold for each is chosen on the validation split (renders of VAL_SEED, the physical validation set) at a 5%
false-alarm rate among images that beat the plane; the test split reports the ROC AUC and, at that threshold, the
share of worse-than-plane images flagged and the false alarms.
"""

import argparse
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))


def auc(scores, positive):
    """ROC AUC of `scores` (higher = more likely positive) by the Mann-Whitney statistic (ties count half)."""
    scores, positive = np.asarray(scores, "float64"), np.asarray(positive, bool)
    pos, neg = scores[positive], scores[~positive]
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def consistency(depth, normals, mask, K):
    from keras_patchnet.geometry import normals_from_depth

    z = np.where(mask, depth + 1.2, 0.0)  # relative depth placed at a typical distance
    derived = normals_from_depth(z, K, mask=mask)
    ok = mask & (np.linalg.norm(derived, axis=-1) > 0.5)
    if ok.sum() < 30:
        return float("nan")
    cos = np.clip(np.sum(derived[ok] * normals[ok], -1) / np.linalg.norm(normals[ok], axis=-1), -1, 1)
    return float(np.degrees(np.arccos(cos)).mean())


def overlap_agreement(model, image, mask):
    """(`overlap_normals` in degrees, `overlap_depth` scale-free) of one image: the patches' disagreement where
    they overlap, read from the patch network's outputs before the bilateral refinement."""
    import keras

    ops = keras.ops
    size = image.shape[:2]
    images, fg, work = model._prepare(image[None].astype("float32"), mask[None, ..., None].astype("float32"), size)
    out = model.patch_model(model.extract(images), training=False)
    depth = model.stitch_depth(out["depth"], output_size=work, foreground=fg)
    normals = model.stitch_normals(out["normals"], output_size=work)
    held = ops.convert_to_numpy(model.extract(fg))[..., 0] > 0.5  # (N, P, P)
    dp, ds = ops.convert_to_numpy(out["depth"])[..., 0], ops.convert_to_numpy(model.extract(depth))[..., 0]
    npatch, nstitch = ops.convert_to_numpy(out["normals"]), ops.convert_to_numpy(model.extract(normals))
    unit = lambda v: v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-6)  # noqa: E731
    cos = np.clip(np.sum(unit(npatch) * unit(nstitch), -1), -1, 1)
    angles, residuals = [], []
    for k in range(held.shape[0]):
        h = held[k]
        if h.sum() < 30:
            continue
        angles.append(np.degrees(np.arccos(cos[k][h])))
        diff = dp[k][h] - ds[k][h]
        residuals.append(diff - diff.mean())
    if not angles:
        return float("nan"), float("nan")
    spread = float(np.std(ops.convert_to_numpy(depth)[0, ..., 0][ops.convert_to_numpy(fg)[0, ..., 0] > 0.5]))
    rms = float(np.sqrt(np.mean(np.concatenate(residuals) ** 2)))
    return float(np.concatenate(angles).mean()), rms / max(spread, 1e-9)


def rows_for(model, images, depth, normals, masks, source, encoding):
    from keras_patchnet import lighting
    from keras_patchnet.data.lights import intrinsics
    from keras_patchnet.evaluation import flat_plane
    from keras_patchnet.metrics import evaluate_maps

    rows = []
    for x, dt, nt, m in zip(images, depth, normals, masks):
        inputs = {"images": x[None].astype("float32"), "mask": m[None, ..., None].astype("float32")}
        out = model.predict_on_batch(inputs)
        d, n = np.asarray(out["depth"])[0], np.asarray(out["normals"])[0]
        got = evaluate_maps(dt[None, ..., None], d[None], nt[None], n[None])["mean"]
        fd, fn = flat_plane(dt[..., None], nt)
        flat = evaluate_maps(dt[None, ..., None], fd[None], nt[None], fn[None])["mean"]
        fit = lighting.light_fit(x, n, m, encoding=encoding)
        rows.append(
            {
                "source": source,
                "beats_plane": bool(got["depth_mae_mm"] < flat["depth_mae_mm"]),
                "depth_ratio": got["depth_mae_mm"] / flat["depth_mae_mm"],
                **fit,
                "consistency": consistency(d[..., 0], n, m, intrinsics(*m.shape)),
            }
        )
        rows[-1]["overlap_normals"], rows[-1]["overlap_depth"] = overlap_agreement(model, x, m)
    return rows


def collect(model, split, count):
    from bench_physical import load_split

    from keras_patchnet.constants import TEST_SEED, VAL_SEED
    from keras_patchnet.data import read_image, render_batch

    seed = TEST_SEED if split == "test" else VAL_SEED
    rows = []
    for light in ("fixed", "rig", "random"):
        b = render_batch(range(seed, seed + count), 224, 224, lighting=light)
        rows += rows_for(
            model, b["images"], b["depth"][..., 0], b["normals"], b["mask"][..., 0], f"render {light}", "linear"
        )
    items, maps, _ = load_split(split)
    for light in ("calibrated", "lamps", "distant"):
        chosen = [(p, i) for p, lt, _, i in items if lt == light][:count]
        images = np.stack([read_image(p) for p, _ in chosen])
        ids = [i for _, i in chosen]
        rows += rows_for(
            model, images, maps["depth"][ids], maps["normals"][ids], maps["mask"][ids], f"physical {light}", "linear"
        )
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--weights", default="true")
    p.add_argument("--images", type=int, default=64)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    import keras_patchnet as kp

    model = kp.models.unet(pretrained=True if args.weights == "true" else args.weights)
    val, test = collect(model, "validation", args.images // 2), collect(model, "test", args.images)
    report = {}
    for signal in ("residual", "light_difference", "consistency", "overlap_normals", "overlap_depth"):
        v = np.array([r[signal] for r in val])
        good_v = np.array([r["beats_plane"] for r in val])
        threshold = float(np.nanquantile(v[good_v], 0.95))
        t = np.array([r[signal] for r in test])
        bad = ~np.array([r["beats_plane"] for r in test])
        ok = np.isfinite(t)
        report[signal] = {
            "auc": auc(t[ok], bad[ok]),
            "threshold": threshold,
            "flagged_worse": float(np.mean(t[bad & ok] > threshold)),
            "false_alarms": float(np.mean(t[~bad & ok] > threshold)),
            "per_source_auc": {
                s: auc(t[ok & (src == s)], bad[ok & (src == s)])
                for src in [np.array([r["source"] for r in test])]
                for s in sorted(set(src))
            },
        }
        print(signal, json.dumps(report[signal], indent=1))
    shares = {
        s: float(np.mean([not r["beats_plane"] for r in test if r["source"] == s]))
        for s in sorted({r["source"] for r in test})
    }
    print("share of test images worse than the plane:", json.dumps(shares, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"report": report, "worse_share": shares, "validation": val, "test": test}, f, indent=1)
    return report


if __name__ == "__main__":
    main()
