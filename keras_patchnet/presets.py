"""THE table of pretrained weights: `<arch>.<tag>` -> where the files live and what they are.

Each entry: `arch`, `repo_id` and pinned 40-hex `revision` on the Hugging Face Hub (None while unpublished: then
only a source checkout's `weights/<name>/` folder or an explicit path loads it), `files` with sha256, the
constructor `config`, `trainable_params`, `input_contract`, `training` (data, recipe command, hardware, time),
`metrics` on the held-out synthetic split with the `metrics_command` that measured them, and `license`.
The README's weights table is generated from it (`python -m keras_patchnet.presets`).
"""

PRESETS = {}


def list_pretrained(arch=None):
    """Names of the pretrained weights, optionally only those of one architecture."""
    return sorted(name for name, p in PRESETS.items() if arch is None or p["arch"] == arch)


def markdown_table():
    rows = [
        "| name | params | depth MAE (mm) | mean angle (°) | flat plane: MAE / angle | trained on | Hub |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in list_pretrained():
        p = PRESETS[name]
        m, flat = p["metrics"]["model"], p["metrics"]["flat_plane"]
        hub = f"`{p['repo_id']}@{p['revision'][:7]}`" if p.get("revision") else "not published"
        rows.append(
            f"| `{name}` | {p['trainable_params']:,} | {m['depth_mae_mm']['mean']:.1f} ± {m['depth_mae_mm']['std']:.1f} | "
            f"{m['mean_angle_deg']['mean']:.1f} ± {m['mean_angle_deg']['std']:.1f} | "
            f"{flat['depth_mae_mm']['mean']:.1f} / {flat['mean_angle_deg']['mean']:.1f} | {p['training']['hardware']}, "
            f"{p['training']['time']} | {hub} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
