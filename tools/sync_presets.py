"""Makes every copy of the presets' facts from their `metadata.json`, the one place they are written:

    python tools/sync_presets.py           # write what is out of date
    python tools/sync_presets.py --check   # list it and exit 1 (a test runs this check)

From each preset folder (`keras_patchnet/weights/<name>/`, installed with the package, and `weights/<name>/`):
its model card (README.md), its entry in the preset table `keras_patchnet/presets.json` (files' sha256 and config
read from the folder itself; the pinned Hub `revision` kept from the table, as it is set when publishing), and in
the project README the weights table and each preset's generalisation table. `tools/build_preset.py` and
`benchmarks/bench_generalisation.py --write` write metadata.json and then run this.
"""

import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from keras_patchnet import hub, presets  # noqa: E402  (after the path, so a source checkout runs as is)

ROOTS = (hub.PACKAGED_WEIGHTS, os.path.join(ROOT, "weights"))
README = os.path.join(ROOT, "README.md")
# every preset's generalisation table; the README holds the weights table and the default preset's table only
PRESETS_PAGE = os.path.join(ROOT, "docs", "presets.md")
TABLE_MARKERS = ("<!-- weights table: python tools/sync_presets.py -->\n", "\n<!-- end of weights table -->")


def preset_folders():
    """{name: folder} of every preset folder with a metadata.json; the package's own copy wins."""
    found = {}
    for root in ROOTS:
        for name in sorted(os.listdir(root)) if os.path.isdir(root) else []:
            folder = os.path.join(root, name)
            if os.path.isfile(os.path.join(folder, "metadata.json")):
                found.setdefault(name, folder)
    return found


def read_metadata(folder):
    with open(os.path.join(folder, "metadata.json"), encoding="utf-8") as f:
        return json.load(f)


def record(name, key, value):
    """Stores `value` as `key` of preset `name`'s metadata.json (where it is installed or checked out), then remakes
    every copy of the metadata (the benchmarks' `--write`); returns the paths written, None if no local folder."""
    folder = hub.local_preset_folder(name)
    if folder is None:
        return None
    metadata = read_metadata(folder)
    metadata[key] = value
    hub.write_metadata(folder, metadata)
    return sync()


def table_entry(folder, metadata, revision=None):
    """A preset's row of the table, from its folder."""
    with open(os.path.join(folder, hub.CONFIG_FILE)) as f:
        config = json.load(f)
    args = metadata["evaluation"]["args"]
    model, flat = metadata["metrics"]["model"], metadata["metrics"]["flat_plane"]
    return {
        "arch": metadata["arch"],
        "repo_id": metadata["repo_id"],
        "revision": revision,
        "files": {n: hub.sha256(os.path.join(folder, n)) for n in (hub.CONFIG_FILE, hub.WEIGHTS_FILE)},
        "config": config,
        "trainable_params": metadata["trainable_params"],
        "license": metadata["license"],
        "headline": {
            "depth_mae_mm": round(model["depth_mae_mm"]["mean"], 2),
            "mean_angle_deg": round(model["mean_angle_deg"]["mean"], 2),
            "flat_plane_depth_mae_mm": round(flat["depth_mae_mm"]["mean"], 2),
            "flat_plane_mean_angle_deg": round(flat["mean_angle_deg"]["mean"], 2),
            "condition": f"{args['images']} held-out renders, {args['size']}², lighting={args['lighting']!r}",
        },
    }


def splice(text, start, end, body, name):
    if start not in text or end not in text:
        if not start.startswith("<!-- generalisation:"):
            raise ValueError(f"README.md has no {start.strip()} ... {end.strip()} markers for {name}")
        last = text.rfind("<!-- end generalisation:")  # a new preset's table goes after the last one
        cut = text.index("-->", last) + 3 if last >= 0 else len(text.rstrip("\n"))
        text = f"{text[:cut]}\n\n### `{name}`\n\n{start}{end}{text[cut:]}"
    head, rest = text.split(start, 1)
    return f"{head}{start}{body}{end}{rest.split(end, 1)[1]}"


def expected():
    """{path: text} of every file made from the metadata, as it should be."""
    folders = preset_folders()
    metadata = {name: read_metadata(folder) for name, folder in folders.items()}
    table = {
        name: table_entry(folders[name], metadata[name], presets.PRESETS.get(name, {}).get("revision"))
        for name in folders
    }
    files = {os.path.join(folders[name], "README.md"): hub.model_card(m) for name, m in metadata.items()}
    for folder in folders.values():  # each folder's manifest, over the card as it will be written
        card = {"README.md": files[os.path.join(folder, "README.md")]}
        files[os.path.join(folder, hub.MANIFEST_FILE)] = hub.manifest_text(folder, contents=card)
    files[presets.TABLE] = json.dumps(table, indent=2, ensure_ascii=False) + "\n"
    with open(README, encoding="utf-8") as f:
        readme = f.read()
    with open(PRESETS_PAGE, encoding="utf-8") as f:
        page = f.read()
    readme = splice(readme, *TABLE_MARKERS, presets.markdown_table(table), "the weights table")
    for name, m in metadata.items():
        if m.get("generalisation"):
            start, end = f"<!-- generalisation:{name} -->\n", f"\n<!-- end generalisation:{name} -->"
            body = hub.generalisation_markdown(m["generalisation"])
            page = splice(page, start, end, body, name)
            if start in readme:  # the default's table, where the README shows it
                readme = splice(readme, start, end, body, name)
        if m.get("lit"):
            start, end = f"<!-- lit:{name} -->\n", f"\n<!-- end lit:{name} -->"
            if start in readme:
                readme = splice(readme, start, end, hub.lit_markdown(m["lit"], brief=True), name)
        if m.get("physical"):
            start, end = f"<!-- physical:{name} -->\n", f"\n<!-- end physical:{name} -->"
            if start in readme:
                readme = splice(readme, start, end, hub.physical_markdown(m["physical"], brief=True), name)
    files[README] = readme
    files[PRESETS_PAGE] = page
    return files


def sync(write=True):
    """Returns the paths that were (with `write`) or would be rewritten."""
    stale = []
    for path, text in expected().items():
        current = open(path, encoding="utf-8").read() if os.path.isfile(path) else None
        if current != text:
            stale.append(path)
            if write:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text)
    if write and presets.TABLE in stale:  # this process reads the new table from now on
        with open(presets.TABLE, encoding="utf-8") as f:
            presets.PRESETS.clear()
            presets.PRESETS.update(json.load(f))
    return stale


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--check", action="store_true", help="only list the files that are out of date; exit 1 if any")
    args = p.parse_args(argv)
    stale = sync(write=not args.check)
    for path in stale:
        print(("out of date: " if args.check else "wrote ") + os.path.relpath(path, ROOT))
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
