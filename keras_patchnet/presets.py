"""THE table of pretrained weights, `<arch>.<tag>` -> where the files live and what they are, read from
`presets.json` beside this file.

Each entry holds what a model zoo's table holds: `arch`, `repo_id` and pinned 40-hex `revision` on the Hugging
Face Hub (None while unpublished: then only the package's own copy, a source checkout's `weights/<name>/` folder
or an explicit path loads it), `files` with their sha256, the constructor `config`, `trainable_params`,
`license`, and one `headline` metric (depth MAE and mean angle next to the flat plane's) with its `condition`.

Everything else about a preset (its recipe as a list of stages, all metrics, the generalisation table, the input
contract) lives in its folder's `metadata.json`. This table, the model cards and the README's tables are made from
those files by `python tools/sync_presets.py` (never edited by hand; a test checks they agree). Only `revision` is
set here by hand, when a preset is published: the Hub commit cannot name itself inside the files it holds.
"""

import json
import os

TABLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "presets.json")

with open(TABLE, encoding="utf-8") as _f:
    PRESETS = json.load(_f)


def list_pretrained(arch=None):
    """Names of the pretrained weights, optionally only those of one architecture."""
    return sorted(name for name, p in PRESETS.items() if arch is None or p["arch"] == arch)


def markdown_table(presets=None):
    """The README's weights table, from the preset table (`PRESETS` unless given)."""
    presets = PRESETS if presets is None else presets
    rows = [
        "| name | params | depth MAE (mm) | mean angle (°) | flat plane: MAE / angle | measured on | Hub |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in sorted(presets):
        p = presets[name]
        h = p["headline"]
        hub = f"`{p['repo_id']}@{p['revision'][:7]}`" if p.get("revision") else "not published"
        rows.append(
            f"| `{name}` | {p['trainable_params']:,} | {h['depth_mae_mm']:.1f} | {h['mean_angle_deg']:.1f} | "
            f"{h['flat_plane_depth_mae_mm']:.1f} / {h['flat_plane_mean_angle_deg']:.1f} | {h['condition']} | {hub} |"
        )
    return "\n".join(rows)
