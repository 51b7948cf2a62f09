"""The gallery (docs/gallery.md and its PNGs): input, truth, prediction and error maps for every preset, on held-out
renders of the package's renderer under the calibrated light and under rig light, and the default preset on the
physically based test set, so a reader sees what the numbers of the tables mean. Run it again whenever a preset changes:

    python tools/make_gallery.py [--out docs/gallery] [--size 224]

Each figure is `keras_patchnet.viz.error_figure` (depth after aligning foreground means, angle per pixel; the flat
plane's errors for reference). Only held-out seeds (`TEST_SEED + i`), never shown to training or to any choice.
"""

import argparse
import os

import numpy as np

CASES = (("fixed", 3), ("fixed", 11), ("rig", 3))  # (lighting, held-out index): two under the calibrated light


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "docs", "gallery"))
    p.add_argument("--size", type=int, default=224)
    args = p.parse_args(argv)

    import matplotlib.pyplot as plt

    from keras_patchnet import models, presets, viz
    from keras_patchnet.constants import TEST_SEED
    from keras_patchnet.data import render
    from keras_patchnet.geometry import angular_error_deg

    os.makedirs(args.out, exist_ok=True)
    lines = [
        "# Gallery",
        "",
        "Held-out renders of the package's renderer (never used in training or to choose anything), at "
        f"{args.size}², for every preset: input, true and predicted depth and normals, and their errors, with the "
        'flat plane\'s errors for reference. Under the calibrated light (`lighting="fixed"`) the presets were '
        "trained for; under rig light, which none of them knows, they are no better than the plane. Made by "
        "`python tools/make_gallery.py`.",
        "",
    ]
    for name in presets.list_pretrained():
        if presets.PRESETS[name]["config"].get("light"):  # told the light: benchmarks/bench_lit.py
            continue
        arch = presets.PRESETS[name]["arch"]
        model = models.create_model(arch, pretrained=name)
        lines += [f"## `{name}`", ""]
        for lighting, index in CASES:
            sample = render(TEST_SEED + index, args.size, args.size, lighting=lighting)
            out = model.predict_on_batch({"images": sample.image[None], "mask": sample.mask[None, ..., None]})
            depth, normals = np.asarray(out["depth"])[0, ..., 0], np.asarray(out["normals"])[0]
            m = sample.mask
            d = (depth - depth[m].mean()) - (sample.depth - sample.depth[m].mean())
            flat = np.abs(sample.depth[m] - sample.depth[m].mean()).mean() * 1000
            angle = angular_error_deg(normals[m], sample.normals[m]).mean()
            flat_angle = angular_error_deg(np.tile([0.0, 0.0, -1.0], (m.sum(), 1)), sample.normals[m]).mean()
            file = f"{name}-{lighting}-{index}.png"
            title = f"{name}, held-out render {index}, lighting={lighting!r}"
            fig = viz.error_figure(sample.image, sample.depth, depth, sample.normals, normals, m, title=title)
            fig.savefig(os.path.join(args.out, file), dpi=60)
            plt.close(fig)
            lines += [
                f"**lighting={lighting!r}, render {index}**: depth {np.abs(d[m]).mean() * 1000:.1f} mm "
                f"(plane {flat:.1f}), angle {angle:.1f}° (plane {flat_angle:.1f}°)",
                "",
                f"![{title}](gallery/{file})",
                "",
            ]
            print(file, flush=True)
    lines += physical_section(args.out)
    with open(os.path.join(args.out, "..", "gallery.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


def physical_section(out, sheets=(0, 1)):
    """The default preset on the physically based test set (path-traced PNGs), read as sRGB, one figure per light."""
    import sys

    import matplotlib.pyplot as plt

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks"))
    from bench_physical import DATA, load_split

    from keras_patchnet import models, viz
    from keras_patchnet.data import read_image

    if not os.path.exists(os.path.join(DATA, "test", "meta.json")):
        return []
    items, maps, _ = load_split("test")
    model = models.unet(pretrained=True, input_encoding="srgb")
    lines = [
        "## The default preset on the physically based test set",
        "",
        "Simulated cloth path-traced by Cycles (`data/physical/test`, never trained on), the PNG files as a user has "
        'them, read with `input_encoding="srgb"`, under the calibrated light, point lamps and a distant light.',
        "",
    ]
    for path, light, scenario, i in items:
        if i not in sheets:
            continue
        image, m = read_image(path), maps["mask"][i]
        out_maps = model.predict_on_batch({"images": image[None], "mask": m[None, ..., None].astype("float32")})
        depth, normals = np.asarray(out_maps["depth"])[0, ..., 0], np.asarray(out_maps["normals"])[0]
        title = f"physical test sheet {i} ({scenario}), {light}"
        fig = viz.error_figure(image, maps["depth"][i], depth, maps["normals"][i], normals, m, title=title)
        file = f"physical-{i:03d}-{light}.png"
        fig.savefig(os.path.join(out, file), dpi=60)
        plt.close(fig)
        lines += [f"![{title}](gallery/{file})", ""]
        print(file, flush=True)
    return lines


if __name__ == "__main__":
    main()
