"""Runs the benchmarks on every backend and writes their tables into docs/speed.md (`make bench`).

    python benchmarks/readme_tables.py [--backends tensorflow torch jax] [--readme docs/speed.md] [--from-json DIR]

Each table lands between `<!-- bench:NAME -->` and `<!-- end bench:NAME -->` with a line saying how it was
measured: the command, the date, the machine (cores), and the load average before and after (a loaded machine
gives slower figures; say so rather than hide it). `--from-json DIR` rewrites the tables from a previous run's
JSON files without measuring again.
"""

import argparse
import datetime
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run(script, backend, out, extra=()):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    subprocess.run([sys.executable, os.path.join(HERE, script), "--json", out, *extra], check=True, env=env)
    with open(out) as f:
        return json.load(f)


def measure(backends, folder):
    os.makedirs(folder, exist_ok=True)
    state = {"date": datetime.date.today().isoformat(), "cores": os.cpu_count(), "load_before": os.getloadavg()[0]}
    results = {"data": run("bench_data.py", backends[0], os.path.join(folder, "data.json"))}
    for b in backends:
        results[f"stitch_{b}"] = run("bench_stitch.py", b, os.path.join(folder, f"stitch_{b}.json"))
        results[f"models_{b}"] = run("bench_models.py", b, os.path.join(folder, f"models_{b}.json"))
        results[f"large_{b}"] = run("bench_large.py", b, os.path.join(folder, f"large_{b}.json"))
    state["load_after"] = os.getloadavg()[0]
    results["state"] = state
    with open(os.path.join(folder, "all.json"), "w") as f:
        json.dump(results, f, indent=1)
    return results


def how(state, command):
    return (
        f"_Measured by `{command}` (`make bench`) on {state['date']}, {state['cores']} CPU cores, 1-minute load "
        f"average {state['load_before']:.1f} before and {state['load_after']:.1f} after (a load above 0 means "
        f"other jobs shared the CPU: expect faster figures on a quiet machine)._"
    )


def large_table(results, backends, note):
    lines = ["| backend | size | patches | seconds | s / megapixel | peak memory (GiB) |", "|---|---|---|---|---|---|"]
    for b in backends:
        for r in results.get(f"large_{b}", {}).get("rows", []):
            if "failed" in r:
                lines.append(f"| {b} | {r['size']}² | – | failed (exit {r['failed']}) | – | – |")
                continue
            lines.append(
                f"| {b} | {r['size']}² | {r['patches']} | {r['seconds']:.2f} | {r['s_per_mp']:.2f} | "
                f"{r['peak_gib']:.2f} |"
            )
    return "\n".join([note, ""] + lines)


def stitch_table(results, backends, note=None):
    lines = [
        "| backend | size | batch | patches | XLA ms / img | no-XLA ms / img | ns / pixel (best) |",
        "|---|---|---|---|---|---|---|",
    ]
    for b in backends:
        for r in results[f"stitch_{b}"]["rows"]:
            xla = "–" if r["xla_ms"] != r["xla_ms"] else f"{r['xla_ms']:.2f}"
            lines.append(
                f"| {b} | {r['size']}² | {r['batch']} | {r['patches']} | {xla} | {r['plain_ms']:.2f} | "
                f"{r['ns_per_pixel']:.0f} |"
            )
    return "\n".join([note or how(results["state"], "python benchmarks/bench_stitch.py"), ""] + lines)


def models_table(results, backends, note=None):
    lines = [
        "| backend | fp32 matmul GFLOP/s | model | GFLOP / img | infer img/s (224², batch 32) | batch 1 | "
        "train patch/s | forward % of matmul | training % of matmul (3 x forward FLOPs) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for b in backends:
        res = results[f"models_{b}"]
        for r in res["rows"]:
            lines.append(
                f"| {b} | {res['matmul_gflops']:.0f} | {r['model']} | {r['gflop_img']:.2f} | "
                f"{r['infer_img_s']:.1f} | {batch_one(r)} | {r['train_patch_s']:.1f} | {100 * r['share']:.0f}% | "
                f"{train_share(r)} |"
            )
    return "\n".join([note or how(results["state"], "python benchmarks/bench_models.py"), ""] + lines)


def batch_one(row):
    return f"{row['infer1_img_s']:.1f}" if "infer1_img_s" in row else "–"


def train_share(row):
    return f"{100 * row['train_share']:.0f}%" if "train_share" in row else "–"


def data_table(results):
    d = results["data"]
    lines = [
        "| renderer images/s (one process) | PatchNetDataset batches/s, images | patches |",
        "|---|---|---|",
        f"| {d['render_img_s']:.1f} | {d['images_batch_s']:.1f} | {d['patches_batch_s']:.1f} |",
    ]
    return "\n".join([how(results["state"], "python benchmarks/bench_data.py"), ""] + lines)


def splice(text, name, table):
    """Replaces what stands between the `bench:NAME` markers of `text` with `table`."""
    start, end = f"<!-- bench:{name} -->", f"<!-- end bench:{name} -->"
    if start not in text or end not in text:
        raise ValueError(f"README has no {start} ... {end} markers")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{table}\n{end}{tail}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backends", nargs="+", default=["tensorflow", "torch", "jax"])
    p.add_argument("--readme", default=os.path.join(ROOT, "docs", "speed.md"), help="the page that holds the tables")
    p.add_argument("--out", default=os.path.join(ROOT, "out", "bench"))
    p.add_argument("--from-json", help="a folder of an earlier run (its all.json): no new measurement")
    p.add_argument("--markdown", help="print the tables of the per-backend JSON files in this folder (gpu.sh)")
    p.add_argument("--label", default="", help="with --markdown: the hardware, for the tables' heading")
    args = p.parse_args(argv)
    if args.markdown:
        results = {}
        for name in os.listdir(args.markdown):
            if name.endswith(".json"):
                with open(os.path.join(args.markdown, name)) as f:
                    results[name[: -len(".json")]] = json.load(f)
        note = f"_Measured by `bash benchmarks/gpu.sh` on {datetime.date.today().isoformat()}: {args.label}._"
        results["state"] = None
        # each table lists the backends whose step wrote its file (a step that timed out is left out alone)
        found = {step: [b for b in args.backends if f"{step}_{b}" in results] for step in ("stitch", "models")}
        print(stitch_table(results, found["stitch"], note), models_table(results, found["models"], note), sep="\n\n")
        print("\n" + large_table(results, args.backends, note))
        return
    if args.from_json:
        with open(os.path.join(args.from_json, "all.json")) as f:
            results = json.load(f)
    else:
        results = measure(args.backends, args.out)
    with open(args.readme, encoding="utf-8") as f:
        text = f.read()
    text = splice(text, "stitch", stitch_table(results, args.backends))
    text = splice(text, "models", models_table(results, args.backends))
    text = splice(text, "data", data_table(results))
    if any(f"large_{b}" in results for b in args.backends):
        note = how(results["state"], "python benchmarks/bench_large.py")
        text = splice(text, "large", large_table(results, args.backends, note))
    with open(args.readme, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"Tables written into {args.readme}")


if __name__ == "__main__":
    main()
