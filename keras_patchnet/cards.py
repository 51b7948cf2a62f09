"""Model cards and the text every preset shows: the input contract, the recipe's commands, the metrics and the
generalisation tables, all made from a preset's `metadata.json` (plain Python: no Keras, no Hub client)."""

ENCODING_TEXT = {
    "linear": (
        " Pixel values are read as linear brightness (input_encoding='linear'), as the package's own renderer writes "
        "them; an 8-bit photo or a path tracer's PNG is sRGB-encoded, which this preset was not trained on."
    ),
    "srgb": (
        " Pixel values are read as sRGB-encoded (input_encoding='srgb'), as every 8-bit photo and PNG is; the "
        "model undoes the tone curve itself. Pass linear values only to a model built with input_encoding='linear'."
    ),
}


LIGHT_TEXT = (
    "It is told each image's light: the input is a dict {'images', 'mask' (optional), 'light'}, 'light' (B, 9) "
    "float32, the order-2 spherical-harmonic code of the light on a Lambertian surface in the OpenCV camera frame "
    "(keras_patchnet.lighting; any scale), as `keras-patchnet calibrate` writes it to light.json from one photo "
    "of a matte ball in the set-up. "
)


def input_contract(
    intensity, trained_on=None, working_width=None, working_interpolation="bilinear", encoding="linear", light=None
):
    """The input contract of a preset's card: how each dtype is read (`PatchNet`'s docstring), the light code a
    light-conditioned preset takes (`light`), what the intensity mode makes of exposure and range, and, when given,
    the training condition `trained_on` (its scale and light)."""
    text = (
        "RGB images (B, H, W, 3), any size, with an optional foreground mask (B, H, W, 1) (1 surface, 0 "
        "background). uint8 is read as is (0-255); uint16 is scaled by 255 / 65535; other integers and floats "
        "are read on the 0-255 scale; bool is refused; NaN or inf pixels are read as background. "
    )
    if light:
        text += LIGHT_TEXT
    if intensity == "none":
        text += (
            "This preset reads absolute brightness (intensity='none'): multiply a [0, 1] float image by 255 "
            "(predict warns when every value is <= 1), and expect another exposure to change the answer."
        )
    else:
        text += (
            f"Brightness is normalised (intensity={intensity!r}), so a global exposure or range change does not matter."
        )
    text += ENCODING_TEXT[encoding]
    if trained_on and light:
        text += f" Trained on {trained_on}, each render told its own light."
    elif trained_on:
        text += f" Trained on {trained_on}; other lights are outside what it was trained for."
    if working_width:
        how = (
            "by nearest-pixel sampling, which keeps the pixel noise and sharpness of a native render"
            if working_interpolation == "nearest"
            else "bilinear, antialiased"
        )
        text += (
            f" Images are resized to a width of {working_width} pixels ({how}; the training scale; the maps come "
            f"back at the input's size), so image size does not change the answer for a surface that fills "
            f"the frame as in training; pass working_width=None to run at native resolution."
        )
    return text


MODEL_CARD = """---
library_name: keras
license: {license}
tags: [keras, keras-patchnet, depth-estimation, surface-normals, patchnet]
---
# {name}

PatchNet ({arch}) for depth and normal maps of textureless deformable surfaces, from
[keras-patchnet](https://pypi.org/project/keras-patchnet/). Load with
`keras_patchnet.models.{arch}(pretrained="{name}")` (or a local copy of this folder as `pretrained`).

## Input contract
{input_contract}

## Outputs and units
- `depth`: (B, H, W, 1) relative depth in **metres**, one free constant per image (align foreground means before
  comparing with ground truth).
- `normals`: (B, H, W, 3) unit normals in the camera frame, OpenCV axes (x right, y down, z forward), pointing to
  the camera (n_z < 0).

## Training
{training}

## Metrics (held-out synthetic split, after stitching and refinement)
{metrics}

Measured with: `{metrics_command}`

## Licence
{license}
"""
TRAINING_SCRIPT = "examples/train_from_scratch.py"


def command_line(step):
    """The shell command of one recipe step, {"script": path, "args": {option: value}} (structured, as in a
    preset's metadata.json): `python SCRIPT --option value ...`; options whose value is None or False are left out."""
    args = " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in step.get("args", {}).items() if v is not None and v is not False
    )
    return f"python {step['script']} {args}".rstrip()


def _training_markdown(training):
    """The card's training section from metadata["training"]: a text, or {"data", "hardware", "time", "stages":
    [{"script", "args", "curve"?}], ...}: one command per stage, each with its learning curve when saved."""
    if isinstance(training, str):
        return training
    lines = [f"- {k}: {v}" for k, v in training.items() if k != "stages"]
    stages = training.get("stages", [])
    if stages:
        lines += ["", "Recipe, stage by stage (each command resumes if stopped; run them in order):", ""]
        for i, stage in enumerate(stages, start=1):
            curve = f" Learning curve: [{stage['curve']}]({stage['curve']})." if stage.get("curve") else ""
            lines += [f"{i}. `{command_line(stage)}`{curve}"]
    return "\n".join(lines)


def generalisation_markdown(result):
    """The generalisation table (benchmarks/bench_generalisation.py's result) as markdown: ratios to the flat plane
    per lighting x size x exposure, with the share of images that beat the plane."""
    head = "| lighting | size | " + " | ".join(f"exposure x{e:g}" for e in result["exposures"]) + " |"
    lines = [head, "|---|---|" + "---|" * len(result["exposures"])]
    for row in result["rows"]:
        cells = [
            f"{c['depth_ratio']:.2f} / {c['angle_ratio']:.2f} ({100 * c['beats_plane']:.0f}%)" for c in row["cells"]
        ]
        lines.append(f"| {row['lighting']} | {row['size']} | " + " | ".join(cells) + " |")
    note = (
        f"_Ratios to the flat plane, depth MAE / mean angle (below 1 beats the plane), and in brackets the share "
        f"of images whose depth MAE beats the plane's; {result['images']} held-out renders a cell; measured by "
        f"`python benchmarks/bench_generalisation.py` on {result['date']}._"
    )
    return "\n".join([note, ""] + lines)


def physical_markdown(result, brief=False):
    """The table of `benchmarks/bench_physical.py --write`: the preset on the physically based test set, next to
    the flat plane, per light and scenario (`brief`: per light only), the PNGs read as the preset reads them and
    read as sRGB."""
    encodings = list(result["columns"])
    head = "| rows | images | " + " | ".join(f"input_encoding={e!r}" for e in encodings) + " |"
    lines = [head, "|---|---|" + "---|" * len(encodings)]
    for row in result["rows"]:
        if brief and row["group"].startswith("scenario"):
            continue
        cells = [
            f"{c['depth_ratio']:.2f} / {c['angle_ratio']:.2f} ({100 * c['beats_plane']:.0f}%)"
            for c in (row["cells"][e] for e in encodings)
        ]
        lines.append(f"| {row['group']} | {row['images']} | " + " | ".join(cells) + " |")
    note = (
        f"_Ratios to the flat plane, depth MAE / mean angle (below 1 beats the plane), and in brackets the share of "
        f"images whose depth MAE beats the plane's, on the physically based test set (simulated cloth path-traced "
        f"by Cycles, 8-bit sRGB PNGs, the true mask given; `data/physical/test`); measured by "
        f"`{result['command']}` on {result['date']}._"
    )
    return "\n".join([note, ""] + lines)


def lit_markdown(result, brief=False):
    """The table of `benchmarks/bench_lit.py --write`: a light-conditioned preset on held-out renders per lighting,
    told the light three ways (the render's true code, a code calibrated from a rendered ball, another image's);
    unless `brief`, then the true code's figures by the angle of the dominant light from the camera axis."""
    lines = [
        "| lighting | true code | ball code | wrong code (another image's) |",
        "|---|---|---|---|",
    ]
    for lighting, r in result["lightings"].items():
        cells = [
            f"{r[k]['depth_ratio']:.2f} / {r[k]['angle_ratio']:.2f} ({100 * r[k]['beats_plane']:.0f}%)"
            for k in ("true", "ball", "wrong")
        ]
        lines.append(f"| {lighting} | " + " | ".join(cells) + " |")
    note = (
        f"_Ratios to the flat plane, depth MAE / mean angle (below 1 beats the plane), and in brackets the share of "
        f"images whose depth MAE beats the plane's; {result['images']} held-out renders of {result['size']}² a row, "
        f"the light given as a code; measured by `{result['command']}` on {result['date']}._"
    )
    if brief:
        return "\n".join([note, ""] + lines)
    bins = list(next(iter(result["lightings"].values()))["true_by_angle"])
    angles = ["", "True code, by the angle of the dominant light from the camera axis (images in brackets):", ""]
    angles += ["| lighting | " + " | ".join(f"{b}°" for b in bins) + " |", "|---|" + "---|" * len(bins)]
    for lighting, r in result["lightings"].items():
        cells = [
            f"{c['depth_ratio']:.2f} / {c['angle_ratio']:.2f} ({c['images']})" if c else "-"
            for c in (r["true_by_angle"][b] for b in bins)
        ]
        angles.append(f"| {lighting} | " + " | ".join(cells) + " |")
    return "\n".join([note, ""] + lines + angles)


def _metrics_markdown(metrics):
    if not metrics:
        return "Not measured."
    rows = ["| metric | model | flat plane |", "|---|---|---|"]
    for key, value in metrics["model"].items():
        flat = metrics.get("flat_plane", {}).get(key, {"mean": float("nan"), "std": float("nan")})
        rows.append(f"| {key} | {value['mean']:.3f} ± {value['std']:.3f} | {flat['mean']:.3f} |")
    return "\n".join(rows)


def model_card(metadata):
    """A preset's README.md (model card), made from its metadata.json only (`save_preset` and tools/sync_presets.py
    write it; nothing else edits a card)."""
    evaluation = metadata.get("evaluation")
    card = MODEL_CARD.format(
        name=metadata["name"],
        arch=metadata["arch"],
        license=metadata.get("license", "apache-2.0"),
        input_contract=metadata.get("input_contract", ""),
        training=_training_markdown(metadata.get("training", "Not recorded.")),
        metrics=_metrics_markdown(metadata.get("metrics", {})),
        metrics_command=command_line(evaluation) if evaluation else "n/a",
    )
    name = metadata["name"]
    if metadata.get("generalisation"):
        card += (
            f"\n## Generalisation\n\n<!-- generalisation:{name} -->\n"
            f"{generalisation_markdown(metadata['generalisation'])}\n<!-- end generalisation:{name} -->\n"
        )
    if metadata.get("lit"):
        table = lit_markdown(metadata["lit"])
        card += f"\n## Under other lights\n\n<!-- lit:{name} -->\n{table}\n<!-- end lit:{name} -->\n"
    if metadata.get("physical"):
        card += (
            f"\n## On the physically based test set\n\n<!-- physical:{name} -->\n"
            f"{physical_markdown(metadata['physical'])}\n<!-- end physical:{name} -->\n"
        )
    return card
