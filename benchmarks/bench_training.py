"""Where a training step of the recipe goes: data, step, compilation, on the active backend.

    KERAS_BACKEND=tensorflow python benchmarks/bench_training.py [--steps 20] [--json out.json]

The shipped UNet's recipe (P = 64, width 8, 16 renders of 112² a step cut into 64 patches, Adam, the report's
loss), timed in one run: the data alone (rendering and cutting one batch), a training step alone
(`train_on_batch` on a prepared batch) with and without XLA, in float32 and under `mixed_bfloat16` (the training
option `dtype_policy`: bfloat16 convolutions, float32 weights; fast where the CPU has AVX512-BF16 or AMX), and
`fit` over `--steps` steps with the data made in the training process (Keras' default), in one worker thread and
in one worker process, each also as a share of the bare step's throughput (1.0: the data costs the step nothing;
on TensorFlow even "in process" overlaps the data with the step, through tf.data's prefetch). Patches per second
and the training FLOP/s as a share of the measured fp32 matmul throughput (forward + backward = 3 x the forward
FLOPs).
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from keras_patchnet import losses, models  # noqa: E402
from keras_patchnet.data import PatchNetDataset, SyntheticSource  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def helpers():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_models", os.path.join(HERE, "bench_models.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dataset(model, steps, **kwargs):
    source = SyntheticSource(steps * 16, 112, 112, seed=0, lighting="fixed")
    return PatchNetDataset(
        source, batch_size=16, augment=False, seed=0, mode="patches", **model.data_settings, **kwargs
    )


def build(policy):
    """The recipe's model built under dtype policy `policy` (the training option `dtype_policy`)."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        return models.create_model("unet", patch_size=64, width=8, min_overlap=1, intensity="image")
    finally:
        keras.config.set_dtype_policy(previous)


def step_time(bench, net, batches, jit):
    """Best of 5 `train_on_batch` calls, after one to compile (`bench`: the bench_models module)."""
    net.compile(optimizer="adam", loss=losses.patchnet_losses(), jit_compile=jit)
    net.train_on_batch(*batches[0])
    return bench.best_time(lambda: net.train_on_batch(*batches[1]), 5)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--json")
    p.add_argument(
        "--policies",
        nargs="+",
        default=["float32", "mixed_bfloat16"],
        help="dtype policies to time the step under (the training option `dtype_policy`)",
    )
    args = p.parse_args(argv)
    bench = helpers()
    peak = bench.matmul_flops()
    model = build("float32")
    net = model.patch_model
    flops = 3 * bench.conv_flops(net)  # per patch, forward + backward
    data = dataset(model, args.steps)
    start = time.perf_counter()
    batches = [data[i] for i in range(min(5, len(data)))]
    data_s = (time.perf_counter() - start) / len(batches)
    patches = len(batches[0][0])
    rows = {"backend": keras.backend.backend(), "matmul_gflops": peak / 1e9, "patches_per_step": patches}
    rows["data_ms"] = 1000 * data_s
    jits = (False, True) if keras.backend.backend() != "torch" else (False,)
    for policy in args.policies:
        for jit in jits:
            step = step_time(bench, build(policy).patch_model, batches, jit)
            label = f"jit_{jit}" if policy == "float32" else f"{policy}_jit_{jit}"
            rows[f"step_ms_{label}"] = 1000 * step
            rows[f"share_{label}"] = flops * patches / step / peak
    bare = step_time(bench, net, batches, False)  # compiles `net` for the fit runs below
    rows["step_ms_fit_model"] = 1000 * bare
    for label, kwargs in (
        ("in_process", {}),
        ("thread", {"workers": 1}),
        ("process", {"workers": 1, "use_multiprocessing": True}),
    ):
        fed = dataset(model, args.steps, **kwargs) if kwargs else data
        net.fit(fed, epochs=1, steps_per_epoch=2, verbose=0)  # warm up (and start the worker)
        start = time.perf_counter()
        net.fit(fed, epochs=1, verbose=0)
        seconds = time.perf_counter() - start
        rows[f"fit_patch_s_data_{label}"] = len(fed) * patches / seconds
        # 1.0: fit runs as fast as back-to-back train_on_batch calls on ready batches (the data costs nothing)
        rows[f"fit_share_of_step_data_{label}"] = rows[f"fit_patch_s_data_{label}"] * bare / patches
    print(json.dumps(rows, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f)


if __name__ == "__main__":
    main()
