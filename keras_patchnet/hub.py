"""Pretrained weights: resolve a preset, download it pinned and verified, load it; write and publish presets.

Downloads go through `huggingface_hub.hf_hub_download(..., revision=<pinned commit>)`, so the HF cache, `HF_HOME`,
`HF_ENDPOINT` and `HF_HUB_OFFLINE` behave as users expect; a cached file at a pinned revision is used without any
request. The client checks sizes only, so every file's sha256 is checked here (one forced re-download on a
mismatch, then an error naming the preset). Only `model.weights.h5` (HDF5 arrays, no pickle, no code) and JSON are
read; the architecture comes from the preset table, and a folder whose config disagrees with it is refused.
"""

import hashlib
import json
import os
import tempfile

from keras_patchnet import presets as presets_lib
from keras_patchnet.cards import (  # noqa: F401  (the card helpers, also reached as hub.<name>)
    TRAINING_SCRIPT,
    command_line,
    generalisation_markdown,
    input_contract,
    lit_markdown,
    model_card,
    physical_markdown,
)

WEIGHTS_FILE = "model.weights.h5"
CONFIG_FILE = "config.json"
# Every preset folder's files and their sha256, written by `save_preset` / `write_metadata`, checked on load.
MANIFEST_FILE = "manifest.json"
# The default preset's files install with the package (PACKAGED_WEIGHTS); a source checkout also holds the others
# in <repo>/weights (SOURCE_WEIGHTS); everything else comes from the Hub by pinned revision.
PACKAGED_WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")
SOURCE_WEIGHTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "weights")


class WeightsError(ValueError):
    """A weights file is missing, corrupt, or does not fit the model it is loaded into."""


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def resolve_preset(arch, pretrained):
    """Preset name for `pretrained=True` (the first preset of `arch`), a tag ("synthetic") or a full name."""
    names = presets_lib.list_pretrained(arch)
    if pretrained is True:
        if not names:
            raise ValueError(f"No pretrained weights for {arch!r} yet. Available: {presets_lib.list_pretrained()}")
        return names[0]
    name = pretrained if "." in pretrained else f"{arch}.{pretrained}"
    if name not in presets_lib.PRESETS or presets_lib.PRESETS[name]["arch"] != arch:
        raise ValueError(f"Unknown pretrained weights {pretrained!r} for {arch!r}. Available: {names}")
    return name


def _offline():
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def download_preset(name, cache_dir=None, endpoint=None, token=None):
    """Downloads the files of preset `name` at its pinned revision; returns the local folder (HF cache)."""
    from huggingface_hub import errors, hf_hub_download

    preset = presets_lib.PRESETS[name]
    if not preset.get("revision"):
        raise WeightsError(
            f"Preset {name!r} is neither installed with the package nor published on the Hub yet; "
            f"load it from a source checkout's weights/{name}/ or pass a local path as `pretrained`."
        )
    folder = None
    for filename, expected in preset["files"].items():
        kwargs = dict(
            revision=preset["revision"],
            cache_dir=cache_dir,
            endpoint=endpoint,
            token=token,
            local_files_only=_offline(),
        )
        try:
            path = hf_hub_download(preset["repo_id"], filename, **kwargs)
            if sha256(path) != expected and not kwargs["local_files_only"]:
                _evict(path)
                path = hf_hub_download(preset["repo_id"], filename, force_download=True, **kwargs)
        except errors.LocalEntryNotFoundError:
            raise WeightsError(
                f"Preset {name!r}: {filename} is not in the Hugging Face cache and HF_HUB_OFFLINE is set "
                f"(or the Hub is unreachable). Download it once online, or pass a local folder as `pretrained`."
            ) from None
        except errors.EntryNotFoundError:
            raise WeightsError(
                f"Preset {name!r}: {preset['repo_id']}@{preset['revision'][:7]} has no file {filename}"
            ) from None
        except Exception as e:  # HTTP status, broken or truncated transfers (the client's HTTP library's own types)
            raise WeightsError(f"Preset {name!r}: downloading {filename} failed: {type(e).__name__}: {e}") from None
        if sha256(path) != expected:
            raise WeightsError(
                f"Preset {name!r}: {filename} is corrupt (sha256 {sha256(path)[:12]}..., expected "
                f"{expected[:12]}...), also after a fresh download"
            )
        folder = os.path.dirname(path)
    return folder


def _evict(path):
    """Removes a cached file (its blob and the snapshot link to it): huggingface_hub 2.4 keeps an existing
    snapshot link on `force_download`, so a corrupt blob would otherwise be returned again."""
    blob = os.path.realpath(path)
    for p in {path, blob}:
        if os.path.lexists(p):
            os.remove(p)


def manifest_text(folder, files=None, contents=None):
    """The text of a preset folder's `manifest.json`: the sha256 of `files` (default: every other file), where
    `contents` ({name: text}) may give a file's text as it is about to be written."""
    contents = contents or {}
    if files is None:
        files = [n for n in os.listdir(folder) if n != MANIFEST_FILE and not n.startswith(".")] + list(contents)
    digests = {}
    for name in sorted(set(files)):
        if name in contents:
            digests[name] = hashlib.sha256(contents[name].encode("utf-8")).hexdigest()
        elif os.path.isfile(os.path.join(folder, name)):
            digests[name] = sha256(os.path.join(folder, name))
    return json.dumps({"format": "keras-patchnet-manifest", "version": 1, "sha256": digests}, indent=2) + "\n"


def write_manifest(folder, files=None):
    """Writes `manifest.json`: the sha256 of `files` (default: every other file) of a preset folder."""
    from keras_patchnet._atomic import write_text

    write_text(os.path.join(folder, MANIFEST_FILE), manifest_text(folder, files))


def verify_folder(folder, restore):
    """Checks a preset folder's files against its manifest: raises `WeightsError` naming a corrupt or missing file
    (with `restore`, the command that brings it back), warns when the folder has no manifest."""
    import warnings

    path = os.path.join(folder, MANIFEST_FILE)
    if not os.path.isfile(path):
        warnings.warn(
            f"Preset folder {folder} has no {MANIFEST_FILE}, so its files cannot be verified; "
            f"`keras_patchnet.hub.write_manifest(folder)` records them once you trust them.",
            stacklevel=4,
        )
        return
    try:
        with open(path) as f:
            expected = json.load(f)["sha256"]
    except (ValueError, KeyError, TypeError) as e:
        raise WeightsError(f"{path} is corrupt (not a manifest: {e}); {restore}") from None
    for name, digest in expected.items():
        file = os.path.join(folder, name)
        if not os.path.isfile(file):
            raise WeightsError(f"{file} is missing (listed in {MANIFEST_FILE}); {restore}")
        if sha256(file) != digest:
            raise WeightsError(f"{file} is corrupt (its sha256 differs from {MANIFEST_FILE}); {restore}")


def _with_defaults(config):
    """A config with the keys that older presets leave out filled in (input_encoding: their pixels are linear)."""
    return {"input_encoding": "linear", **config}


def _check_folder(folder, name=None, expected_config=None):
    weights = os.path.join(folder, WEIGHTS_FILE)
    label = f"preset {name!r}" if name else f"folder {folder!r}"
    if not os.path.isfile(weights):
        raise WeightsError(f"The {label} has no {WEIGHTS_FILE}")
    config_path = os.path.join(folder, CONFIG_FILE)
    if not os.path.isfile(config_path):
        raise WeightsError(f"The {label} has no {CONFIG_FILE}")
    try:
        with open(config_path) as f:
            config = json.load(f)
    except ValueError as e:
        raise WeightsError(f"The {label}: {CONFIG_FILE} is not valid JSON ({e})") from None
    if expected_config is not None and _with_defaults(config) != _with_defaults(expected_config):
        raise WeightsError(f"The {label}: {CONFIG_FILE} {config} does not match the preset table {expected_config}")
    return config, weights


def load_weights(model, weights, label):
    try:
        model.load_weights(weights)
    except Exception as e:  # h5py and Keras raise several types for bad files and shape mismatches
        first = (str(e).strip().splitlines() or [type(e).__name__])[0].rstrip(".:")  # Keras lists every layer after
        raise WeightsError(f"Cannot load the weights of {label} into {model.name}: {first}") from None
    return model


def resolve_weights(arch, pretrained, architecture=None, cache_dir=None, endpoint=None):
    """Where the pretrained weights of `arch` are and which architecture they need: (config, weights file, label).

    `pretrained`: True, a tag, a preset name (downloaded at its pinned revision and sha256-checked, or found
    installed with the package or in a source checkout), a local folder (config.json + model.weights.h5, e.g. from
    `save_preset`), or a `.weights.h5` file, which needs `architecture` ({"patch_size", "width",
    "network_kwargs", "intensity"}). `keras_patchnet.models` builds the model from the config and loads the file
    with `load_weights`; this module never builds models."""
    if isinstance(pretrained, (str, os.PathLike)) and os.path.exists(pretrained):
        path = os.fspath(pretrained)
        if os.path.isfile(path):
            given = {k: v for k, v in (architecture or {}).items() if v is not None}
            return {"arch": arch, **given}, path, f"file {path!r}"
        verify_folder(path, "copy the folder again from where it came from (or re-save it with hub.save_preset)")
        config, weights = _check_folder(path)
        if config.get("arch") != arch:
            raise WeightsError(f"Folder {path!r} holds {config.get('arch')!r} weights, not {arch!r}")
        return config, weights, f"folder {path!r}"
    if not isinstance(pretrained, (bool, str)):
        raise ValueError(f"`pretrained` must be a bool, a preset tag or name, or a path. Received: {pretrained!r}")
    name = resolve_preset(arch, pretrained)
    preset = presets_lib.PRESETS[name]
    folder = local_preset_folder(name) or download_preset(name, cache_dir=cache_dir, endpoint=endpoint)
    _, weights = _check_folder(folder, name, preset["config"])
    return dict(preset["config"]), weights, f"preset {name!r}"


def local_preset_folder(name):
    """The folder of preset `name` shipped with the package or in a source checkout, if it is there, after checking
    its files' sha256 against the preset table (as for a download); None if neither holds it. A file that is there
    but does not match is corrupt: `WeightsError` names it and the command that restores it."""
    files = presets_lib.PRESETS[name]["files"]
    for root, restore in (
        (PACKAGED_WEIGHTS, "reinstall the package: pip install --force-reinstall --no-deps keras-patchnet"),
        (SOURCE_WEIGHTS, f"restore it: git checkout -- weights/{name}"),
    ):
        local = os.path.join(root, name)
        if not os.path.isdir(local):
            continue
        for f, digest in files.items():
            path = os.path.join(local, f)
            if not os.path.isfile(path):
                raise WeightsError(f"Preset {name!r}: {path} is missing; {restore}")
            if sha256(path) != digest:
                raise WeightsError(
                    f"Preset {name!r}: {path} is corrupt (sha256 differs from the preset table); {restore}"
                )
        return local
    return None


def model_config(model):
    """The constructor config of a `PatchNet` built by `keras_patchnet.models` (for config.json), from the
    architecture the model records (`PatchNet.architecture`) and its grid."""
    architecture = getattr(model, "architecture", None)
    if not architecture:
        raise ValueError(
            f"{getattr(model, 'name', model)!r} records no architecture: build it with keras_patchnet.models "
            f"(create_model, unet, ...) to save or publish it as a preset"
        )
    config = {
        "arch": architecture["arch"],
        "patch_size": model.patch_size,
        "width": architecture["width"],
        "min_overlap": model.min_overlap,
    }
    if architecture.get("network_kwargs"):
        config["network_kwargs"] = dict(architecture["network_kwargs"])
    if model.intensity != "patch":
        config["intensity"] = model.intensity
    config["input_encoding"] = getattr(model, "input_encoding", "linear")  # recorded in every preset
    if getattr(model, "light", None):
        config["light"] = model.light
    if getattr(model, "working_width", None):
        config["working_width"] = model.working_width
        if getattr(model, "working_interpolation", "bilinear") != "bilinear":
            config["working_interpolation"] = model.working_interpolation
    return config


def save_preset(model, folder, name=None, metadata=None, golden_images=None, golden_light=None):
    """Writes a preset folder laid out as its Hub repository: config.json, model.weights.h5, metadata.json,
    README.md (model card, from the metadata) and, with `golden_images`, golden.npz (inputs and outputs for tests;
    a light-conditioned model also needs `golden_light`, their (B, 9) light codes, stored as "light").

    `metadata` (all optional): "license", "input_contract", "training" (a text, or {"data", "hardware", "time",
    "stages": [{"script", "args"}]}), "evaluation" ({"script", "args"}: the command that measured "metrics"),
    "metrics" ({"model": {metric: {"mean", "std"}}, "flat_plane": ...}) and "generalisation"."""
    import numpy as np

    config = model_config(model)
    name = name or f"{config['arch']}.custom"
    given = dict(metadata or {})
    metadata = {
        "name": name,
        "arch": config["arch"],
        "repo_id": given.pop("repo_id", None),
        "license": given.pop("license", "apache-2.0"),
        "trainable_params": int(sum(int(np.prod(w.shape)) for w in model.trainable_weights)),
        "input_contract": given.pop("input_contract", None)
        or input_contract(
            getattr(model, "intensity", "patch"),
            encoding=getattr(model, "input_encoding", "linear"),
            light=getattr(model, "light", None),
        ),
        "training": given.pop("training", "Not recorded."),
        "evaluation": given.pop("evaluation", None),
        "metrics": given.pop("metrics", {}),
        **given,
    }
    from keras_patchnet._atomic import atomic_files

    os.makedirs(folder, exist_ok=True)
    with atomic_files() as temp:
        with open(temp(os.path.join(folder, CONFIG_FILE)), "w") as f:
            json.dump(config, f, indent=2, sort_keys=True)
        model.save_weights(temp(os.path.join(folder, WEIGHTS_FILE)))
        if golden_images is not None:
            if bool(getattr(model, "light", None)) != (golden_light is not None):
                raise ValueError("`golden_light` must be given exactly when the model is light-conditioned")
            inputs = (
                {"images": golden_images} if golden_light is None else {"images": golden_images, "light": golden_light}
            )
            out = model.predict_on_batch(inputs if golden_light is not None else golden_images)
            np.savez_compressed(
                temp(os.path.join(folder, "golden.npz")),
                **inputs,
                depth=np.asarray(out["depth"]),
                normals=np.asarray(out["normals"]),
            )
    write_metadata(folder, metadata)  # and the manifest of every file
    return folder


def write_metadata(folder, metadata):
    """Writes a preset folder's metadata.json, the model card made from it and the folder's manifest."""
    from keras_patchnet._atomic import write_text

    write_text(os.path.join(folder, "metadata.json"), json.dumps(metadata, indent=2, ensure_ascii=False) + "\n")
    write_text(os.path.join(folder, "README.md"), model_card(metadata))
    write_manifest(folder)


def push_to_hub(
    model,
    repo_id,
    name=None,
    metadata=None,
    golden_images=None,
    golden_light=None,
    token=None,
    endpoint=None,
    private=False,
    commit_message="Upload keras-patchnet weights",
):
    """Writes the preset folder of `model` (see `save_preset`) and uploads it with `upload_folder`.

    Returns the `CommitInfo`; its `oid` is the revision to pin in the preset table.
    """
    from huggingface_hub import HfApi

    api = HfApi(endpoint=endpoint, token=token)
    with tempfile.TemporaryDirectory() as folder:
        save_preset(model, folder, name=name, metadata=metadata, golden_images=golden_images, golden_light=golden_light)
        api.create_repo(repo_id, private=private, exist_ok=True)
        return api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message=commit_message)
