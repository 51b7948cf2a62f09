"""Held-out synthetic metrics of a model next to the flat plane, as JSON: the command behind the preset cards.

python tools/evaluate_synthetic.py --model unet --weights true --images 64 --size 112 --lighting fixed
"""

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None):
    from keras_patchnet import models
    from keras_patchnet.constants import ARCHITECTURES, LIGHTINGS, parse_weights
    from keras_patchnet.evaluation import evaluate_synthetic

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="unet", choices=ARCHITECTURES)
    p.add_argument("--weights", default="true", help='"true", a preset name or tag, or a folder')
    p.add_argument("--images", type=int, default=64)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--lighting", default="rig", choices=LIGHTINGS)
    args = p.parse_args(argv)
    model = models.create_model(args.model, pretrained=parse_weights(args.weights))
    result = evaluate_synthetic(model, args.images, args.size, lighting=args.lighting)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
