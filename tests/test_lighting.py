"""Light as data (`kp.lighting`): order-2 spherical-harmonic codes from a photo of a matte ball, from normals and
from the renderer's light parameters; their agreement, exposure invariance, the light file, and refusals."""

import json

import numpy as np
import pytest

from keras_patchnet import lighting as L
from keras_patchnet.data.ball import render_ball

HEMISPHERE = L.hemisphere(3000)


def shading_difference(a, b):
    """Mean |shade(a) - shade(b)| over camera-facing normals, b scaled to a, as a share of a's brightest."""
    sa, sb = L.shade(HEMISPHERE, a), L.shade(HEMISPHERE, b)
    sb = sb * (sa @ sb) / (sb @ sb)
    return np.abs(sa - sb).mean() / sa.max()


def reproduction_error(sample, code):
    """Mean |image - scale * shade(normals, code)| over the ball's unsaturated pixels, in 8-bit levels."""
    grey = sample.image.astype("float64").mean(-1)
    keep = sample.mask & (grey < 254) & (grey > 0)
    s = L.shade(sample.normals[keep], code)
    return np.abs(s * (s @ grey[keep]) / (s @ s) - grey[keep]).mean()


@pytest.mark.parametrize("lighting", ["fixed", "rig", "random"])
def test_a_rendered_ball_gives_a_code_that_reproduces_it_and_agrees_with_its_lights(lighting):
    directional, point = [], []
    for seed in range(12):
        s = render_ball(seed, 224, lighting)
        code = L.code_from_ball(s.image, encoding="linear")
        assert code.shape == (9,) and abs(L.shade(HEMISPHERE, code).mean() - 1) < 1e-3
        from_lights = L.code_from_lights(s.params["lights"], s.params["ambient"], centre=s.params["centre"])
        lamps = any(kind == "point" for kind, _, _ in s.params["lights"])
        (point if lamps else directional).append((reproduction_error(s, code), shading_difference(code, from_lights)))
    if directional:  # distant light: within 3/255 on average, and the ball's code is the lights' code (to the
        errors, gaps = np.array(directional).T  # rig and random lights' weak highlights, which no code holds)
        assert errors.mean() < 3.0 and gaps.max() < (0.005 if lighting == "fixed" else 0.025), (errors, gaps)
    if point:  # lamps 0.5-1.5 m away: the bound stated in the docs (their falloff across the ball)
        errors, gaps = np.array(point).T
        assert errors.mean() < 3.5 and errors.max() < 5.0 and gaps.max() < 0.08, (errors, gaps)


def test_the_code_of_the_calibrated_light_points_to_it_and_does_not_depend_on_exposure_or_encoding():
    from keras_patchnet.data.synthetic import FIXED_LIGHT

    s = render_ball(3, 224, "fixed")
    code = L.code_from_ball(s.image, encoding="linear")
    truth = np.asarray(FIXED_LIGHT) / np.linalg.norm(FIXED_LIGHT)
    assert np.degrees(np.arccos(L.direction(code) @ truth)) < 5
    for exposure in (0.5, 0.7, 1.4, 2.0):
        brighter = np.clip(s.image.astype("float64") * exposure, 0, 255).astype("uint8")
        assert shading_difference(code, L.code_from_ball(brighter, encoding="linear")) < 0.01
    encoded = render_ball(3, 224, "fixed", encoding="srgb")
    assert shading_difference(code, L.code_from_ball(encoded.image)) < 0.01  # sRGB decoded first
    assert shading_difference(code, L.code_from_ball(s.image, mask=s.mask, encoding="linear")) < 0.005


def test_a_photo_without_a_ball_or_with_a_ball_in_shadow_is_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(L.LightError, match="no ball found"):
        L.code_from_ball(np.zeros((64, 64, 3), "uint8"))
    with pytest.raises(L.LightError, match="no ball found"):
        L.code_from_ball(rng.integers(0, 255, (64, 64, 3)).astype("uint8"))
    s = render_ball(0, 128, "fixed")
    behind = L.irradiance(s.normals[s.mask], [("directional", [1.0, 0.0, 0.6], 1.0)], ambient=0.0)
    image = np.zeros((128, 128))
    image[s.mask] = behind * 200
    with pytest.raises(L.LightError, match="shadow"):
        L.code_from_ball(image.astype("uint8"), encoding="linear")
    with pytest.raises(L.LightError, match="shadow"):
        L.code_from_ball(image.astype("uint8"), mask=s.mask, encoding="linear")
    assert len(str(pytest.raises(L.LightError, L.code_from_ball, np.zeros((8, 8))).value).splitlines()) == 1


def test_the_light_file_round_trips_and_says_what_it_is(tmp_path):
    code = L.code_from_lights([("directional", [0.3, -0.4, -1.0], 0.8)], ambient=0.1)
    record = L.save_light(str(tmp_path / "light.json"), code)
    assert record["format"] == "keras-patchnet-light" and record["version"] == 1 and len(record["sh9"]) == 9
    assert 0.05 < record["ambient_share"] < 0.2 and abs(np.linalg.norm(record["direction"]) - 1) < 1e-3  # 0.1 / 0.9
    np.testing.assert_allclose(L.load_light(str(tmp_path / "light.json")), code, atol=1e-5)
    (tmp_path / "bad.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(L.LightError, match="bad.json: cannot read a light code"):
        L.load_light(str(tmp_path / "bad.json"))


def test_a_code_from_any_image_with_known_normals_matches_its_lights():
    from keras_patchnet.data import render

    s = render(4, 112, 112, lighting="fixed")
    code = L.code_from_normals(s.image.astype("float64").mean(-1) / 255, s.normals, s.mask)
    from_lights = L.code_from_lights(s.params["lights"], s.params["ambient"])
    assert shading_difference(code, from_lights) < 0.03  # a sheet's normals cover less of the sphere than a ball's


def test_calibrate_writes_the_light_and_its_figure_or_refuses_in_one_line(tmp_path, capsys):
    from PIL import Image

    from keras_patchnet import cli

    Image.fromarray(render_ball(3, 160, "fixed", encoding="srgb").image).save(tmp_path / "ball.png")
    code = cli.main(["calibrate", str(tmp_path / "ball.png"), "--out", str(tmp_path / "light.json")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "dominant light towards (+0.27, -0.35, -0.90)" in out and "ambient share 0.10" in out
    assert L.load_light(str(tmp_path / "light.json")).shape == (9,) and (tmp_path / "light.png").stat().st_size > 0
    Image.fromarray(np.zeros((64, 64, 3), "uint8")).save(tmp_path / "black.png")
    code = cli.main(["calibrate", str(tmp_path / "black.png"), "--out", str(tmp_path / "none.json")])
    out, err = capsys.readouterr()
    assert code == 1 and "no ball found" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "none.json").exists() and not (tmp_path / "none.png").exists()


def test_the_difference_between_lights_ignores_exposure_and_finds_the_calibrated_light():
    calibrated = L.calibrated_code()
    assert L.difference(calibrated, calibrated * 3) < 1e-9  # an exposure is no difference
    ball = render_ball(0, 224, "fixed", encoding="srgb").image
    assert L.difference(L.code_from_ball(ball), calibrated) < 0.01
    moved = L.code_from_lights([("directional", [-0.6, 0.1, -1.0], 0.8)], 0.1)
    assert L.difference(moved, calibrated) > 0.1


def test_light_fit_is_small_for_the_true_normals_under_the_assumed_light_and_large_under_another():
    from keras_patchnet.data import render

    s = render(4, 96, 96, kind="cloth", lighting="fixed", encoding="linear")
    fit = L.light_fit(s.image, s.normals, s.mask)
    assert fit["residual"] < 0.1 and fit["light_difference"] < 0.03
    moved = L.code_from_lights([("directional", [-0.6, 0.1, -1.0], 0.8)], 0.1)
    other = L.light_fit(s.image, s.normals, s.mask, code=moved)
    assert other["residual"] > 2 * fit["residual"] and other["light_difference"] > 0.1
    empty = L.light_fit(s.image, s.normals, np.zeros_like(s.mask))
    assert np.isnan(empty["residual"]) and np.isnan(empty["light_difference"])
    with pytest.raises(ValueError, match="`encoding` must be 'linear' or 'srgb'"):
        L.light_fit(s.image, s.normals, s.mask, encoding="gamma")
    with pytest.raises(ValueError, match=r"`normals` must be \(H, W, 3\) with the image's height and width"):
        L.light_fit(s.image, s.normals[:50], s.mask)


def test_predict_records_each_images_light_fit_and_warns_only_when_asked(tiny_folder, tmp_path, capsys):
    from PIL import Image

    from keras_patchnet import cli
    from keras_patchnet.data import render

    s = render(5, 40, 48, kind="cloth", lighting="fixed")
    Image.fromarray(s.image).save(tmp_path / "sheet.png")
    Image.fromarray((s.mask * 255).astype("uint8")).save(tmp_path / "sheet_mask.png")
    L.save_light(str(tmp_path / "light.json"), L.calibrated_code())
    base = [
        "predict",
        str(tmp_path / "sheet.png"),
        "--mask",
        str(tmp_path / "sheet_mask.png"),
        "--weights",
        tiny_folder,
        "--light",
        str(tmp_path / "light.json"),
        "--outputs",
        "depth",
    ]
    assert cli.main([*base, "--out", str(tmp_path / "quiet")]) == 0
    out, err = capsys.readouterr()
    assert "warning" not in out + err
    with open(tmp_path / "quiet" / "predict.json") as f:
        fit = json.load(f)["images"][0]["light_fit"]
    assert set(fit) == {"residual", "light_difference"} and fit["residual"] > 0
    assert cli.main([*base, "--out", str(tmp_path / "loud"), "--warn-light"]) == 0
    out, err = capsys.readouterr()
    warned = [line for line in out.splitlines() if "is not lit as the preset expects" in line]
    assert fit["residual"] > L.LIGHT_FIT_WARNING  # an untrained network's normals do not re-shade to the image
    assert len(warned) == 1 and "sheet.png" in warned[0]
    (tmp_path / "bad.json").write_text("{}")
    assert cli.main([*base[:-4], "--light", str(tmp_path / "bad.json"), "--out", str(tmp_path / "bad")]) == 1
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "--light" in err and not (tmp_path / "bad").exists()


def test_predict_feeds_the_light_to_a_light_conditioned_preset(tiny_folder, tmp_path, capsys):
    from PIL import Image

    from keras_patchnet import cli, hub, models
    from keras_patchnet.data import render

    lit = hub.save_preset(
        models.with_light_input(models.unet(pretrained=tiny_folder)), str(tmp_path / "lit"), name="unet.tiny-lit"
    )
    Image.fromarray(render(5, 40, 48, kind="cloth", lighting="fixed").image).save(tmp_path / "sheet.png")
    moved = L.code_from_lights([("directional", [-0.6, 0.1, -1.0], 0.8)], 0.1)
    L.save_light(str(tmp_path / "light.json"), moved)
    base = ["predict", str(tmp_path / "sheet.png"), "--weights", lit, "--outputs", "depth"]
    assert cli.main([*base, "--out", str(tmp_path / "none")]) == 1
    assert "is light-conditioned: give your set-up's --light light.json" in capsys.readouterr().err
    assert cli.main([*base, "--light", str(tmp_path / "light.json"), "--out", str(tmp_path / "lit-out")]) == 0
    depth = np.load(tmp_path / "lit-out" / "sheet_depth.npy")
    assert depth.shape[:2] == (40, 48) and np.isfinite(depth).all()


def test_predict_with_a_light_runs_the_shipped_light_conditioned_preset(tmp_path):
    from PIL import Image

    from keras_patchnet import cli, presets
    from keras_patchnet.data import render

    sheet = render(3, 56, 64, lighting="rig", encoding="srgb")
    Image.fromarray(sheet.image).save(tmp_path / "sheet.png")
    L.save_light(str(tmp_path / "light.json"), L.code_from_render(sheet))
    argv = ["predict", str(tmp_path / "sheet.png"), "--light", str(tmp_path / "light.json"), "--outputs", "depth"]
    assert cli.main([*argv, "--out", str(tmp_path / "out")]) == 0
    with open(tmp_path / "out" / "predict.json") as f:
        record = json.load(f)
    assert record["weights"] == "unet.synthetic-lit" and presets.PRESETS["unet.synthetic-lit"]["config"]["light"]
    assert (
        record["config"]["input_encoding"] == "srgb"
        and np.isfinite(np.load(tmp_path / "out" / "sheet_depth.npy")).all()
    )


def test_a_ball_under_a_renders_lights_calibrates_that_light():
    from keras_patchnet.data import render

    for seed, lighting in ((3, "fixed"), (4, "rig"), (5, "random")):
        s = render(seed, 112, 112, lighting=lighting)
        ball = render_ball(0, 160, lights={"lights": s.params["lights"], "ambient": s.params["ambient"]})
        code = L.code_from_ball(ball.image, ball.mask, encoding="linear")
        assert L.difference(code, L.code_from_lights(s.params["lights"], s.params["ambient"])) < 0.05, lighting
        other = render(seed + 10, 112, 112, lighting="rig")
        assert L.difference(code, L.code_from_render(other)) > L.difference(code, L.code_from_render(s))


def test_a_ball_whose_shadowed_side_matches_a_grey_background_is_still_found_whole():
    """A side light and a grey background as bright as the ball's shadowed side: the shading fades into the
    background there, and the ball's circle comes from its silhouette, not from the bright region."""
    lights = {"lights": [("directional", [-0.7, 0.4, -0.56], 0.7)], "ambient": 0.17}
    s = render_ball(0, 224, lights=lights)
    shadowed = np.median(s.image[s.mask & (s.normals @ np.array([-0.7, 0.4, -0.56]) < 0)])
    image = np.where(s.mask[..., None], s.image, np.uint8(shadowed))
    found = L.find_ball(image.astype("float64").mean(-1))
    assert (found & s.mask).sum() / (found | s.mask).sum() > 0.95
    code = L.code_from_ball(image, encoding="linear")
    truth = L.code_from_lights(lights["lights"], lights["ambient"], centre=s.params.get("centre"))
    assert L.difference(code, truth) < 0.03
