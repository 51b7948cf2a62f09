"""Precomputes the shape bank's per-vertex sky visibility (ambient occlusion on both sides of each sheet,
`kp.data.physical.sky_visibility`), so that rendering from the bank never pays for it during training:

    python tools/bank_occlusion.py data/shape-bank/train

Writes `occlusion_<first seed>.npz` ("sky": (N, G, G, 2) float16) beside every `sheets_<first seed>.npz` that has
none; `kp.data.physical.ShapeBank` loads them. About 80 ms a sheet on one core.
"""

import glob
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from keras_patchnet.data.physical import sky_visibility  # noqa: E402


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    for folder in argv or ["data/shape-bank/train"]:
        for path in sorted(glob.glob(os.path.join(folder, "sheets_*.npz"))):
            out = path.replace("sheets_", "occlusion_")
            if os.path.exists(out):
                continue
            with np.load(path) as f:
                sky = np.stack([sky_visibility(v.astype("float64")) for v in f["vertices"]]).astype("float16")
            np.savez_compressed(out[: -len(".npz")] + ".tmp.npz", sky=sky)
            os.replace(out[: -len(".npz")] + ".tmp.npz", out)
            print(out, sky.shape, flush=True)


if __name__ == "__main__":
    main()
