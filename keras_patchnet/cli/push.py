"""`keras-patchnet push`: publish a trained folder to the Hugging Face Hub with a model card."""

import json
import os

from keras_patchnet.cli._common import CLIError
from keras_patchnet.constants import ARCHITECTURES


def add_parser(sub, parents):
    p = sub.add_parser(
        "push", parents=parents, help="publish a trained folder to the Hugging Face Hub with a model card"
    )
    p.add_argument("folder", help="a folder with config.json and model.weights.h5 (from `train` or save_preset)")
    p.add_argument("repo_id", help="user/name on the Hub")
    p.add_argument("--name", help="preset name for the card (default <arch>.custom)")
    p.add_argument("--endpoint", help="Hub URL (default: HF_ENDPOINT or huggingface.co)")
    p.add_argument("--token", help="Hub token (default: the logged-in one)")
    p.add_argument("--private", action="store_true")


def check_repo_id(repo_id):
    """Refuses a repository id the Hub would refuse, before anything is loaded or sent."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        raise CLIError(
            f"repo_id {repo_id!r} is not a Hub repository id: expected user/name of letters, digits, '-', '_' and "
            f"'.', without '..', spaces or a leading or trailing '-' or '.'"
        ) from None
    if repo_id.count("/") != 1:
        raise CLIError(f"repo_id {repo_id!r}: expected user/name (one '/')")


def _metadata(folder):
    from keras_patchnet import hub

    metadata = {}
    for name in ("metadata.json", "metrics.json"):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            with open(path) as f:
                loaded = json.load(f)
            metadata.update(
                loaded
                if name == "metadata.json"
                else {
                    "metrics": {k: loaded[k] for k in ("model", "flat_plane") if k in loaded},
                    "training": {"stages": [{"script": hub.TRAINING_SCRIPT, "args": loaded.get("recipe", {})}]},
                }
            )
    for key in ("name", "arch", "trainable_params"):  # the model's own, written anew
        metadata.pop(key, None)
    return metadata


def run(args):
    from keras_patchnet import hub, models

    check_repo_id(args.repo_id)
    config_path = os.path.join(args.folder, hub.CONFIG_FILE)
    if not os.path.isfile(config_path):
        raise CLIError(f"{args.folder} has no {hub.CONFIG_FILE} (train writes one; so does hub.save_preset)")
    with open(config_path) as f:
        arch = json.load(f).get("arch")
    if arch not in ARCHITECTURES:
        raise CLIError(f"{config_path}: unknown architecture {arch!r}, expected one of {ARCHITECTURES}")
    try:
        model = models.create_model(arch, pretrained=args.folder)
    except (hub.WeightsError, ValueError) as e:
        raise CLIError(str(e)) from None
    try:
        info = hub.push_to_hub(
            model,
            args.repo_id,
            name=args.name,
            metadata=_metadata(args.folder),
            token=args.token,
            endpoint=args.endpoint,
            private=args.private,
        )
    except hub.WeightsError as e:
        raise CLIError(str(e)) from None
    except Exception as e:  # the Hub client raises httpx, OSError and HfHubHTTPError types for a failed request
        endpoint = args.endpoint or os.environ.get("HF_ENDPOINT", "https://huggingface.co")
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CLIError(f"push to {endpoint} failed ({type(e).__name__}: {first}); nothing was published") from None
    print(f"Pushed {args.folder} to {args.repo_id} at revision {info.oid}")
    return 0
