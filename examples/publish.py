"""Publish a trained or fine-tuned model folder to the Hugging Face Hub, with its model card.

    huggingface-cli login            # or HF_TOKEN=...
    python examples/publish.py runs/finetuned your-name/patchnet-unet-cloth

The folder is what `examples/finetune.py`, `keras-patchnet train` or `keras_patchnet.hub.save_preset` write
(config.json + model.weights.h5 [+ metadata.json]). Others then load it with
`keras_patchnet.models.unet(pretrained=<local download>)`; a preset of this package is built with
`tools/build_preset.py` (its folder under weights/), and the printed revision is pinned in
`keras_patchnet/presets.json`.
"""

import argparse
import json
import os

import keras_patchnet as kp


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("folder")
    p.add_argument("repo_id")
    p.add_argument("--endpoint", default=None, help="Hub URL (default: HF_ENDPOINT or huggingface.co)")
    p.add_argument("--token", default=None)
    args = p.parse_args(argv)

    with open(os.path.join(args.folder, "config.json")) as f:
        arch = json.load(f)["arch"]
    model = kp.models.create_model(arch, pretrained=args.folder)
    metadata_path = os.path.join(args.folder, "metadata.json")
    metadata = json.load(open(metadata_path)) if os.path.exists(metadata_path) else {}
    name = metadata.pop("name", f"{arch}.custom")
    metadata.pop("trainable_params", None)
    info = kp.hub.push_to_hub(
        model, args.repo_id, name=name, metadata=metadata, token=args.token, endpoint=args.endpoint
    )
    print(f"https://huggingface.co/{args.repo_id} revision {info.oid} (pin this in presets.py)")
    return info


if __name__ == "__main__":
    main()
