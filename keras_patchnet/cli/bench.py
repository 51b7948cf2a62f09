"""`keras-patchnet bench`: inference speed on random images."""

from keras_patchnet.cli._common import add_model_options, load_model
from keras_patchnet.progress import progress_bar


def add_parser(sub, parents):
    p = sub.add_parser("bench", parents=parents, help="inference speed on random images")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--repeats", type=int, default=5)
    add_model_options(p, pretrained_default="none")


def run(args):
    import time

    import keras
    import numpy as np

    model = load_model(args)
    images = np.random.default_rng(0).uniform(0, 255, (args.batch_size, args.size, args.size, 3)).astype("float32")
    model.predict_on_batch(images)  # trace / compile
    progress = progress_bar(args.repeats, "batch")
    times = []
    for i in range(args.repeats):
        start = time.perf_counter()
        model.predict_on_batch(images)
        times.append(time.perf_counter() - start)
        progress.update(i + 1)
    best = min(times)
    print(
        f"{args.model} on {keras.backend.backend()}: {args.batch_size} images of {args.size}x{args.size} in "
        f"{best * 1000:.1f} ms (best of {args.repeats}) = {args.batch_size / best:.2f} images/s"
    )
    return 0
