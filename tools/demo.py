"""End-to-end run of the three layers on a rendered surface; writes a figure and prints what it measured.

    python tools/demo.py --out out/demo

A 224 x 224 render is cut into 3 x 3 patches; each depth patch gets a random offset (±0.2 m) and noise, as a patch
network's relative predictions would; normal patches get noise. PatchStitch undoes the offsets by least squares
and BilateralRefine smooths the seams. No trained weights are needed.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def run(out_dir, seed=3, size=224):
    import keras

    from keras_patchnet.data import render
    from keras_patchnet.geometry import angular_error_deg
    from keras_patchnet.layers import BilateralRefine, PatchExtract, PatchStitch

    s = render(seed, size, size, kind="cloth")
    rng = np.random.default_rng(seed)
    depth, normals = s.depth[None, ..., None], s.normals[None]
    mask = s.mask[None, ..., None].astype("float32")
    extract = PatchExtract(128, min_overlap=64)
    depth_patches = keras.ops.convert_to_numpy(extract(depth))
    depth_patches = (
        depth_patches
        + rng.uniform(-0.2, 0.2, (len(depth_patches), 1, 1, 1))
        + rng.normal(0, 0.002, depth_patches.shape)
    )
    normal_patches = keras.ops.convert_to_numpy(extract(normals)) + rng.normal(
        0, 0.1, (len(depth_patches), 128, 128, 3)
    )
    depth_patches, normal_patches = depth_patches.astype("float32"), normal_patches.astype("float32")

    naive = keras.ops.convert_to_numpy(PatchStitch(128, 64, mode="mean")(depth_patches, output_size=(size, size)))
    stitched = PatchStitch(128, 64, mode="depth")(depth_patches, output_size=(size, size), foreground=mask)
    refined = keras.ops.convert_to_numpy(BilateralRefine(5, 1.5, 0.01)(stitched, foreground=mask))
    n_stitched = PatchStitch(128, 64, mode="normals")(normal_patches, output_size=(size, size))
    n_refined = keras.ops.convert_to_numpy(BilateralRefine(5, 1.5, 0.3, renormalize=True)(n_stitched, foreground=mask))

    fg = s.mask

    def aligned_mae_mm(pred):
        e = (pred[0, ..., 0] - s.depth)[fg]
        return float(np.abs(e - e.mean()).mean() * 1000)

    report = {
        "depth MAE, patches averaged without offsets (mm)": aligned_mae_mm(naive),
        "depth MAE, stitched + refined (mm)": aligned_mae_mm(refined),
        "normal error of the noisy patches (deg)": float(
            angular_error_deg(normal_patches[4], keras.ops.convert_to_numpy(extract(normals))[4]).mean()
        ),
        "normal error, stitched + refined (deg)": float(angular_error_deg(n_refined[0][fg], s.normals[fg]).mean()),
    }
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "demo.png")
    _figure(path, s, naive[0, ..., 0], refined[0, ..., 0], n_refined[0])
    return path, report


def _figure(path, s, naive, refined, normals):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fg = s.mask
    fig, axes = plt.subplots(1, 4, figsize=(16, 4.4))
    panels = [
        (s.image, "rendered input"),
        (np.where(fg, naive - naive[fg].mean(), np.nan), "patches averaged, offsets ignored"),
        (np.where(fg, refined - refined[fg].mean(), np.nan), "PatchStitch + BilateralRefine"),
        (np.where(fg[..., None], (normals * [1, -1, -1] + 1) / 2, 0).clip(0, 1), "stitched normals"),
    ]
    for ax, (img, title) in zip(axes, panels):
        im = ax.imshow(img, cmap="viridis")
        ax.set_title(title)
        ax.axis("off")
        if img.ndim == 2:
            fig.colorbar(im, ax=ax, fraction=0.046, label="relative depth (m)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Run PatchExtract -> PatchStitch -> BilateralRefine on a render.")
    parser.add_argument("--out", default="out/demo")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)
    import keras

    print(f"Keras {keras.__version__}, backend {keras.backend.backend()}")
    path, report = run(args.out, args.seed)
    for key, value in report.items():
        print(f"  {key:50s} {value:8.2f}")
    print(f"Wrote {path}")


if __name__ == "__main__":
    main()
