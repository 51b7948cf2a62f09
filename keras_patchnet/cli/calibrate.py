"""`keras-patchnet calibrate`: the light of a set-up from one photo of a matte ball (`keras_patchnet.lighting`).

    keras-patchnet calibrate ball.jpg --out light.json [--mask ball_mask.png] [--encoding srgb|linear]

Writes `light.json` (the order-2 spherical-harmonic code, the dominant light's direction and the ambient share) and,
with matplotlib, `light.png` beside it: the ball, the shading the code gives it and the residual. Prints the
direction and the ambient share.
"""

import os

from keras_patchnet.cli._common import CLIError


def add_parser(sub, parents):
    p = sub.add_parser("calibrate", parents=parents, help="the light of a set-up from one photo of a matte ball")
    p.add_argument("ball", help="a photo of a matte (white, not glossy) ball under the light, on a darker background")
    p.add_argument("--out", required=True, help="the light file to write, e.g. light.json")
    p.add_argument("--mask", help="the ball's pixels (white = ball), when it cannot be told from the background")
    p.add_argument(
        "--encoding",
        choices=("srgb", "linear"),
        default="srgb",
        help="how the photo's pixels encode brightness (default srgb: every 8-bit photo)",
    )


def _figure(path, image, mask, code, encoding):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from keras_patchnet import lighting
    from keras_patchnet.ops.encoding import srgb_to_linear

    grey = image.astype("float32").mean(-1)
    linear = np.asarray(srgb_to_linear(grey)) if encoding == "srgb" else grey
    normals, _ = lighting.ball_normals(mask)
    disc = np.linalg.norm(normals, axis=-1) > 0
    shaded = np.zeros_like(linear)
    s = lighting.shade(normals[disc], code)
    shaded[disc] = s * (s @ linear[disc]) / (s @ s)
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4), constrained_layout=True)
    for ax, data, title, kw in (
        (axes[0], image, "the ball", {}),
        (axes[1], np.where(disc, shaded, np.nan), "the code's shading (linear)", {"cmap": "gray"}),
        (
            axes[2],
            np.where(disc, linear - shaded, np.nan),
            "residual (linear, 0-255)",
            {"cmap": "coolwarm", "vmin": -10, "vmax": 10},
        ),
    ):
        im = ax.imshow(data, **kw)
        ax.set_title(title)
        ax.set_axis_off()
        if kw:
            fig.colorbar(im, ax=ax, shrink=0.8)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def run(args):
    from importlib.util import find_spec

    from keras_patchnet import lighting
    from keras_patchnet._atomic import atomic_files
    from keras_patchnet.cli.predict import _read

    folder = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(folder):
        raise CLIError(f"--out {args.out}: no folder {folder}")
    image = _read(args.ball)
    mask = _read(args.mask, reader="read_mask") if args.mask else None
    try:
        code = lighting.code_from_ball(image, mask=mask, encoding=args.encoding)
    except lighting.LightError as e:
        raise CLIError(f"{args.ball}: {e}") from None
    try:
        record = lighting.save_light(args.out, code)
    except OSError as e:
        raise CLIError(f"--out {args.out}: cannot write ({e.strerror or e})") from None
    x, y, z = record["direction"]
    print(f"dominant light towards ({x:+.2f}, {y:+.2f}, {z:+.2f}) in the camera frame (x right, y down, z forward)")
    print(f"ambient share {record['ambient_share']:.2f}; wrote {args.out}")
    figure = os.path.splitext(args.out)[0] + ".png"
    if find_spec("matplotlib") is None:
        print(
            'keras-patchnet: note: light.png skipped (matplotlib is not installed): pip install "keras-patchnet[viz]"'
        )
        return 0
    ball = mask if mask is not None else lighting.find_ball(image.astype("float32").mean(-1))
    with atomic_files() as temp:
        _figure(temp(figure), image, ball, code, args.encoding)
    print(f"wrote {figure} (the ball, its fit and the residual)")
    return 0
