"""The shape bank: sheets of cloth and paper simulated with MuJoCo's flex cloth (a development-time tool; the package
never imports it), saved as vertex grids in float16 for the package's renderer to draw under any camera and light.

    pip install mujoco==4.0.1 numpy          # in a venv of its own: never a dependency of keras-patchnet
    python tools/simulate_sheets.py --out data/shape-bank/train --first-seed 0 --sheets 2400 --grid 24
    # the physically based test set's sheets: other seeds, a finer grid, every scenario including two that
    # training never sees (drape_cylinder, hang_rod); its validation set the same from seed 6000000
    python tools/simulate_sheets.py --out data/shape-bank/test --first-seed 5000000 --sheets 128 --grid 32 \
        --chunk 32 --scenarios drape_sphere drape_box drape_edge drop_bumpy hang_one hang_two push crumple \
        drape_cylinder hang_rod

Every sheet is one simulation, drawn from its seed alone (`scenario_for(seed)`, then the scenario's own random
draws), so a chunk can be remade bit for bit and chunks written by separate processes never overlap. Sheets are
written in chunks of `--chunk` as `sheets_<first seed>.npz` (vertices (N, G, G, 3) float16 in metres, world frame
with z up; the scenario index, material and seed of each sheet); a chunk that exists is skipped, so a stopped run
resumes where it stopped.

Scenarios (each with soft cloth or stiff, paper-like sheets; sizes 0.25-0.7 m):
- `drape_sphere`, `drape_box`, `drape_edge`: dropped onto a sphere, a box, the edge of a table (hanging over it);
- `drop_bumpy`: dropped from a tilt onto ground with bumps;
- `hang_one`, `hang_two`: pinned at one or two points of an edge, released flat, caught while it swings and settles;
- `push`: lying on the ground, pushed from one or two sides by moving blocks, so it folds;
- `crumple`: thrown onto the ground with a random velocity field, then pushed together;
- held out for the test set (other shapes than training ever sees): `drape_cylinder`, `hang_rod`.
"""

import argparse
import os
import time

import numpy as np

TRAIN_SCENARIOS = ("drape_sphere", "drape_box", "drape_edge", "drop_bumpy", "hang_one", "hang_two", "push", "crumple")
TEST_SCENARIOS = ("drape_cylinder", "hang_rod")
SCENARIOS = TRAIN_SCENARIOS + TEST_SCENARIOS
TIMESTEP = 0.002


def material(rng):
    """Soft cloth (60%) or a stiff, paper-like sheet: Young's modulus (Pa), thickness (m), areal density (kg/m²),
    damping."""
    if rng.random() < 0.6:
        return {
            "kind": "cloth",
            "young": 10 ** rng.uniform(3.3, 4.5),
            "thickness": 1e-3,
            "density": rng.uniform(0.1, 0.3),
        }
    return {"kind": "paper", "young": 10 ** rng.uniform(4.8, 5.5), "thickness": 1e-3, "density": rng.uniform(0.08, 0.2)}


def _sheet_xml(grid, size, pos, euler, mat, pins=()):
    nx, ny = grid
    spacing = (size[0] / (nx - 1), size[1] / (ny - 1))
    mass = mat["density"] * size[0] * size[1]
    # contact radius 3 mm, smaller only where MuJoCo requires it (below half the vertex spacing of a fine grid)
    radius = 0.003 if min(spacing) > 0.006 else 0.45 * min(spacing)
    pin = f'<pin id="{" ".join(str(p) for p in pins)}"/>' if pins else ""
    return f"""
    <flexcomp type="grid" count="{nx} {ny} 1" spacing="{spacing[0]:.5f} {spacing[1]:.5f} .01" pos="{pos[0]:.4f}
        {pos[1]:.4f} {pos[2]:.4f}" euler="{euler[0]:.2f} {euler[1]:.2f} {euler[2]:.2f}" radius="{radius:.4f}"
        name="sheet" dim="2" mass="{mass:.5f}">
      {pin}
      <edge equality="true" damping="{0.001 if mat["kind"] == "cloth" else 0.004}"/>
      <elasticity young="{mat["young"]:.1f}" poisson="0.3" thickness="{mat["thickness"]}" elastic2d="bend"/>
      <contact condim="3" friction="0.8" solref="0.004" selfcollide="none"/>
    </flexcomp>"""


def _model_xml(bodies, sheet, mocap=""):
    return f"""<mujoco>
  <option timestep="{TIMESTEP}" integrator="Euler" solver="CG" tolerance="1e-4" iterations="30"/>
  <size memory="100M"/>
  <default><geom friction="0.8"/></default>
  <worldbody>
    {bodies}
    {mocap}
    {sheet}
  </worldbody>
</mujoco>"""


def _vertex_id(i, j, grid):
    return i * grid[1] + j  # MuJoCo's grid order: x-major


def scenario_for(seed, scenarios=TRAIN_SCENARIOS):
    return scenarios[seed % len(scenarios)]


def build(scenario, grid, rng):
    """MJCF text, seconds to simulate, and a per-step driver (or None) for one draw of `scenario`."""
    mat = material(rng)
    side = rng.uniform(0.25, 0.7)
    size = (side, side * rng.uniform(0.6, 1.0))
    yaw = rng.uniform(0, 360)
    drive = None
    ground = '<geom type="plane" size="3 3 .1"/>'
    if scenario in ("drape_sphere", "drape_box", "drape_cylinder"):
        r = rng.uniform(0.25, 0.5) * side
        if scenario == "drape_sphere":
            obstacle = f'<geom type="sphere" size="{r:.4f}" pos="0 0 {r:.4f}"/>'
        elif scenario == "drape_box":
            h = rng.uniform(0.3, 1.0) * r
            depth = r * rng.uniform(0.5, 1)
            turn = rng.uniform(0, 90)
            obstacle = f'<geom type="box" size="{r:.4f} {depth:.4f} {h:.4f}" pos="0 0 {h:.4f}" euler="0 0 {turn:.1f}"/>'
        else:
            turn = rng.uniform(0, 180)
            place = f'pos="0 0 {r * 0.6:.4f}" euler="90 0 {turn:.1f}"'
            obstacle = f'<geom type="cylinder" size="{r * 0.6:.4f} {side:.4f}" {place}/>'
        offset = rng.uniform(-0.25, 0.25, 2) * side
        pos = (offset[0], offset[1], 2.2 * r + 0.05)
        xml = _model_xml(ground + obstacle, _sheet_xml(grid, size, pos, (rng.normal(0, 5), rng.normal(0, 5), yaw), mat))
        seconds = 2.5
    elif scenario == "drape_edge":
        h = rng.uniform(0.1, 0.4)
        table = f'<geom type="box" size="0.5 0.5 {h / 2:.4f}" pos="-0.5 0 {h / 2:.4f}"/>'
        over = rng.uniform(0.2, 0.6) * side
        pos = (over - side / 2, 0, h + 0.03)
        xml = _model_xml(ground + table, _sheet_xml(grid, size, pos, (0, 0, rng.uniform(-30, 30)), mat))
        seconds = 2.5
    elif scenario == "drop_bumpy":
        bumps = "".join(
            f'<geom type="{rng.choice(["sphere", "capsule"])}" '
            f'size="{rng.uniform(0.02, 0.08):.3f} {rng.uniform(0.03, 0.15):.3f}" '
            f'pos="{x:.3f} {y:.3f} 0" euler="{rng.uniform(0, 90):.0f} 0 {rng.uniform(0, 180):.0f}"/>'
            for x, y in rng.uniform(-0.4, 0.4, (rng.integers(3, 12), 2)) * side / 0.6
        )
        pos = (0, 0, rng.uniform(0.15, 0.4))
        tilt = (rng.uniform(-40, 40), rng.uniform(-40, 40), yaw)
        xml = _model_xml(ground + bumps, _sheet_xml(grid, size, pos, tilt, mat))
        seconds = 2.5
    elif scenario in ("hang_one", "hang_two", "hang_rod"):
        nx, ny = grid
        if scenario == "hang_one":
            pins = (_vertex_id(*rng.choice([(0, 0), (0, ny - 1), (nx - 1, 0), (nx - 1, ny - 1)]), grid),)
            bodies = ""
        elif scenario == "hang_two":
            a = rng.integers(0, nx // 3)
            b = rng.integers(2 * nx // 3, nx)
            pins = (_vertex_id(a, 0, grid), _vertex_id(b, 0, grid))
            bodies = ""
        else:  # hung over a rod: the middle row rests on it
            pins = ()
            bodies = f'<geom type="capsule" size="0.02 {side:.3f}" pos="0 0 {side + 0.1:.3f}" euler="90 0 0"/>'
        pos = (0, 0, side + 0.1 + (0.02 if scenario == "hang_rod" else 0))
        xml = _model_xml(ground + bodies, _sheet_xml(grid, size, pos, (rng.normal(0, 10), 0, yaw), mat, pins))
        seconds = rng.uniform(1.2, 3.0)
    elif scenario in ("push", "crumple"):
        two = rng.random() < 0.5
        block = '<body mocap="true" pos="{x:.3f} 0 0.04"><geom type="box" size="0.02 {w:.3f} 0.04"/></body>'
        w = size[1]
        mocap = block.format(x=-side / 2 - 0.03, w=w)
        if two:
            mocap += block.format(x=side / 2 + 0.03, w=w)
        lift = 0.01 if scenario == "push" else rng.uniform(0.1, 0.3)
        xml = _model_xml(ground, _sheet_xml(grid, size, (0, 0, lift), (0, 0, 0), mat), mocap)
        travel = rng.uniform(0.25, 0.5) * side
        seconds = 3.0

        def drive(model, data, t):
            f = min(1.0, max(0.0, (t - 0.3) / 2.0))
            data.mocap_pos[0, 0] = -side / 2 - 0.03 + travel * f
            if two:
                data.mocap_pos[1, 0] = side / 2 + 0.03 - travel * f

    else:
        raise ValueError(f"unknown scenario {scenario!r}; expected one of {SCENARIOS}")
    return xml, seconds, drive, mat


def simulate(seed, grid=32, scenarios=TRAIN_SCENARIOS):
    """One sheet: (vertices (grid, grid, 3) float32 metres, scenario, material) from `seed` alone."""
    import mujoco

    scenario = scenario_for(seed, scenarios)
    rng = np.random.default_rng([seed, SCENARIOS.index(scenario)])
    xml, seconds, drive, mat = build(scenario, (grid, grid), rng)
    dt = TIMESTEP if mat["kind"] == "cloth" else TIMESTEP / 2  # stiff sheets need shorter explicit steps
    model = mujoco.MjModel.from_xml_string(xml.replace(f'timestep="{TIMESTEP}"', f'timestep="{dt}"'))
    data = mujoco.MjData(model)
    if scenario in ("push", "crumple"):  # a random smooth velocity field: the sheet buckles, or lands folded
        mujoco.mj_forward(model, data)
        xy = data.flexvert_xpos[:, :2]
        k = rng.normal(0, 1 / 0.1, (3, 2))
        phase = rng.uniform(0, 2 * np.pi, 3)
        v = np.stack([np.sin(xy @ k[i] + phase[i]) for i in range(3)], -1)
        v *= (0.05, 0.05, 0.1) if scenario == "push" else rng.uniform(0.3, 1.0)
        data.qvel[: v.size] = v.reshape(-1)[: data.qvel.size]
    steps = int(seconds / dt)
    for i in range(steps):
        if drive is not None:
            drive(model, data, i * dt)
        mujoco.mj_step(model, data)
    vertices = data.flexvert_xpos.reshape(grid, grid, 3).copy()
    unstable = data.warning[mujoco.mjtWarning.mjWARN_BADQACC].number > 0
    if unstable or not np.isfinite(vertices).all() or np.abs(vertices).max() > 5:
        raise FloatingPointError(f"seed {seed} ({scenario}) diverged")
    return vertices, scenario, mat


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--sheets", type=int, default=2400)
    p.add_argument("--grid", type=int, default=32)
    p.add_argument("--chunk", type=int, default=50)
    p.add_argument("--scenarios", nargs="+", default=list(TRAIN_SCENARIOS), choices=SCENARIOS)
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    for first in range(args.first_seed, args.first_seed + args.sheets, args.chunk):
        path = os.path.join(args.out, f"sheets_{first:08d}.npz")
        if os.path.exists(path):
            continue
        start = time.time()
        rows = []
        for seed in range(first, min(first + args.chunk, args.first_seed + args.sheets)):
            try:
                vertices, scenario, mat = simulate(seed, args.grid, tuple(args.scenarios))
            except FloatingPointError as e:
                print(f"skipped: {e}", flush=True)
                continue
            rows.append((seed, vertices, scenario, mat))
        tmp = path + ".tmp.npz"
        np.savez_compressed(
            tmp,
            vertices=np.stack([r[1] for r in rows]).astype("float16"),
            seed=np.array([r[0] for r in rows], "int64"),
            scenario=np.array([SCENARIOS.index(r[2]) for r in rows], "int8"),
            paper=np.array([r[3]["kind"] == "paper" for r in rows]),
            young=np.array([r[3]["young"] for r in rows], "float32"),
            scenarios=np.array(SCENARIOS),
        )
        os.replace(tmp, path)
        print(f"{path}: {len(rows)} sheets in {time.time() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
