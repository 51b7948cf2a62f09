import os

import numpy as np
import pytest

from keras_patchnet.data import DataError, PatchNetDataset, SyntheticSource, TexlessDataset, write_synthetic

SEQUENCES = {
    "cloth": ["Lc_top_edge", "Ll_left_edge", "Lr_tl_tr_corns"],
    "paper": ["Lc", "Ll"],
    "tshirt": ["Ld_front", "Lr_back"],
}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return write_synthetic(str(tmp_path_factory.mktemp("texless")), SEQUENCES, frames=3, size=48)


def test_reads_back_what_was_written(root):
    ds = TexlessDataset(root)
    assert len(ds) == 7 * 3
    sample = ds.load(0)
    assert sample["image"].dtype == np.uint8 and sample["image"].shape == (48, 48, 3)
    assert sample["depth"].shape == (48, 48) and sample["mask"].any()
    assert ds.intrinsics.shape == (3, 3)
    r = ds.records[0]
    assert r.image.endswith("rgb_0000.tiff") and r.depth.endswith("depth_0000.npz")


def test_filters(root):
    assert {r.object for r in TexlessDataset(root, objects=["paper"]).records} == {"paper"}
    assert len(TexlessDataset(root, sequences=["Lc"])) == 3


def test_sequence_split_holds_out_whole_sequences(root):
    train, test = TexlessDataset(root).split(by="sequence", test_fraction=0.34)
    train_seqs = {(r.object, r.sequence) for r in train.records}
    test_seqs = {(r.object, r.sequence) for r in test.records}
    assert train_seqs and test_seqs and not train_seqs & test_seqs
    assert {o for o, _ in test_seqs} == {"cloth", "paper", "tshirt"}


def test_object_split_and_frame_split(root):
    train, test = TexlessDataset(root).split(by="object", test_objects=["paper"])
    assert {r.object for r in test.records} == {"paper"} and "paper" not in {r.object for r in train.records}
    train, test = TexlessDataset(root).split(by="frame", test_fraction=0.25, seed=1)
    assert len(train) + len(test) == 21 and not set(train.records) & set(test.records)
    with pytest.raises(ValueError, match="`test_objects` leaves no object"):
        TexlessDataset(root).split(by="object", test_objects=["cloth", "paper", "tshirt"])
    with pytest.raises(ValueError, match="`by` must be one of"):
        TexlessDataset(root).split(by="camera")


def _copy(root, tmp_path):
    import shutil

    dst = str(tmp_path / "copy")
    shutil.copytree(root, dst)
    return dst


def test_missing_pair_names_the_file_or_is_skipped_with_a_warning(root, tmp_path):
    dst = _copy(root, tmp_path)
    os.remove(os.path.join(dst, "paper", "normals", "Lc", "normals_0001.npz"))
    with pytest.raises(DataError, match=r"paper/images/Lc/rgb_0001.tiff: no matching normals file for frame 1"):
        TexlessDataset(dst)
    with pytest.warns(UserWarning, match="no matching normals file"):
        ds = TexlessDataset(dst, on_error="skip")
    assert len(ds) == 20


def test_bad_files_name_the_file(root, tmp_path):
    dst = _copy(root, tmp_path)
    with open(os.path.join(dst, "cloth", "images", "Lc_top_edge", "rgb_0000.tiff"), "wb") as f:
        f.write(b"not a tiff")
    np.savez(os.path.join(dst, "cloth", "depth_maps", "Lc_top_edge", "depth_0001.npz"), depth=np.zeros((10, 10)))
    np.savez(os.path.join(dst, "cloth", "depth_maps", "Lc_top_edge", "depth_0002.npz"), depth=np.zeros((48, 48)))
    ds = TexlessDataset(dst, sequences=["Lc_top_edge"])
    with pytest.raises(DataError, match=r"Cannot read image file .*rgb_0000.tiff"):
        ds.load(0)
    with pytest.raises(DataError, match=r"depth_0001.npz: depth shape \(10, 10\) does not match"):
        ds.load(1)
    with pytest.raises(DataError, match=r"depth_0002.npz: no foreground"):
        ds.load(2)
    with pytest.warns(UserWarning, match="rgb_0000.tiff"):
        assert len(TexlessDataset(dst, sequences=["Lc_top_edge", "Ll_left_edge"], on_error="skip").validate()) == 3
    with pytest.warns(UserWarning), pytest.raises(DataError, match="No samples found"):
        TexlessDataset(dst, sequences=["Lc_top_edge"], on_error="skip").validate()


def test_empty_or_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="Dataset folder not found"):
        TexlessDataset(str(tmp_path / "nope"))
    with pytest.raises(DataError, match="No samples found"):
        TexlessDataset(str(tmp_path))


def test_image_batches_have_relative_depth_on_the_foreground(root):
    ds = PatchNetDataset(TexlessDataset(root), batch_size=4, mode="images", shuffle=False)
    x, y = ds[0]
    assert x.shape == (4, 48, 48, 3) and x.dtype == np.float32 and x.max() > 1.0
    fg = np.linalg.norm(y["normals"], axis=-1) > 0
    for d, m in zip(y["depth"][..., 0], fg):
        assert abs(d[m].mean()) < 1e-5 and not d[~m].any()
    assert len(ds) == 6  # 21 samples, last batch partial
    assert ds[5][0].shape[0] == 1


def test_patch_batches_and_variable_patch_count():
    src = SyntheticSource(6, 96, 96, seed=3, resample=False)
    ds = PatchNetDataset(src, batch_size=3, mode="patches", patch_size=64, min_overlap=32)
    x, y = ds[0]
    assert (
        x.shape == (3 * 4, 64, 64, 3) and y["depth"].shape == (12, 64, 64, 1) and y["normals"].shape == (12, 64, 64, 3)
    )
    src = SyntheticSource(6, 200, 200, seed=4, resample=False)
    ds = PatchNetDataset(src, batch_size=3, mode="patches", patch_size=64, min_overlap=8, drop_empty_patches=True)
    counts = {ds[i][0].shape[0] for i in range(len(ds))}
    assert all(0 < c < 3 * 16 for c in counts)
    assert all(np.any(ds[0][1]["normals"][k] != 0) for k in range(ds[0][0].shape[0]))


def test_shuffle_changes_order_each_epoch_and_resampling_changes_samples():
    src = SyntheticSource(4, 32, 32, seed=0, resample=True)
    ds = PatchNetDataset(src, batch_size=4, shuffle=True)
    first = ds[0][0]
    ds.on_epoch_end()
    assert not np.array_equal(first, ds[0][0])
    fixed = PatchNetDataset(SyntheticSource(8, 32, 32, seed=0, resample=False), batch_size=8, shuffle=True)
    before = fixed[0][0]
    fixed.on_epoch_end()
    after = fixed[0][0]
    assert not np.array_equal(before, after)  # new order
    assert np.allclose(np.sort(before.reshape(8, -1), axis=0).sum(), np.sort(after.reshape(8, -1), axis=0).sum())


def test_augmentation_flips_normals_consistently():
    src = SyntheticSource(8, 40, 40, seed=5, resample=False)
    plain = PatchNetDataset(src, batch_size=8, shuffle=False)
    aug = PatchNetDataset(src, batch_size=8, shuffle=False, augment=True)
    (_, y0), (_, y1) = plain[0], aug[0]
    flipped = 0
    for a, b in zip(y0["normals"], y1["normals"]):
        if not np.allclose(a, b):
            np.testing.assert_allclose(b, a[:, ::-1] * [-1, 1, 1], atol=1e-6)
            flipped += 1
    assert 0 < flipped < 8


def test_a_mixture_of_lightings_lights_sample_i_by_entry_i_modulo_their_number():
    from keras_patchnet.data import render

    src = SyntheticSource(6, 32, 32, seed=2, resample=False, lighting="fixed,rig,random")
    assert src.lightings == ("fixed", "rig", "random")
    for i, light in enumerate(["fixed", "rig", "random"] * 2):
        expected = render(np.random.default_rng([2, 0, i]), 32, 32, None, light).image
        np.testing.assert_array_equal(src.load(i)["image"], expected)
    assert SyntheticSource(2, 32, 32, lighting=("rig", "fixed")).lightings == ("rig", "fixed")


def test_a_mixture_of_worlds_meets_every_lighting_and_renders_in_the_encoding_asked():
    from keras_patchnet.data import render

    src = SyntheticSource(8, 32, 32, seed=2, resample=False, lighting="fixed,rig", world="standard,physical")
    assert src.worlds == ("standard", "physical")
    expected = [("fixed", "standard"), ("rig", "standard"), ("fixed", "physical"), ("rig", "physical")] * 2
    for i, (light, world) in enumerate(expected):
        image = render(np.random.default_rng([2, 0, i]), 32, 32, None, light, world).image
        np.testing.assert_array_equal(src.load(i)["image"], image)
    srgb = SyntheticSource(1, 32, 32, seed=2, resample=False, lighting="fixed", encoding="srgb")
    np.testing.assert_array_equal(
        srgb.load(0)["image"], render(np.random.default_rng([2, 0, 0]), 32, 32, None, "fixed", encoding="srgb").image
    )
    with pytest.raises(ValueError, match="`world` must be one of"):
        SyntheticSource(2, 32, 32, world="standard,moon")


@pytest.mark.parametrize("lighting", ["", "fixed,sun", "fixed,,rig", ("rig", 3), 5])
def test_a_bad_lighting_is_refused_by_name(lighting):
    with pytest.raises(ValueError, match="`lighting` must be one of"):
        SyntheticSource(2, 32, 32, lighting=lighting)


def test_bad_arguments():
    src = SyntheticSource(2, 32, 32)
    with pytest.raises(ValueError, match="`mode` must be one of"):
        PatchNetDataset(src, mode="pixels")
    with pytest.raises(ValueError, match="`batch_size` must be a positive int"):
        PatchNetDataset(src, batch_size=0)


def test_dataset_scales_each_image_to_255_in_image_intensity_mode():
    from keras_patchnet.data import PatchNetDataset, SyntheticSource

    source = SyntheticSource(2, 40, 48, seed=3, resample=False)
    x, _ = PatchNetDataset(source, batch_size=2, intensity="image", shuffle=False)[0]
    np.testing.assert_allclose(x.max(axis=(1, 2, 3)), 255.0, rtol=1e-6)
    plain, _ = PatchNetDataset(source, batch_size=2, shuffle=False)[0]
    np.testing.assert_allclose(x, plain * (255.0 / plain.max(axis=(1, 2, 3), keepdims=True)), rtol=1e-6)
    with pytest.raises(ValueError, match="`intensity` must be one of"):
        PatchNetDataset(source, intensity="global")


def test_multi_scale_samples_are_larger_renders_of_the_same_scene_shrunk_to_size():
    from keras_patchnet.data import render
    from keras_patchnet.data.dataset import _draw_scale, shrink

    plain = SyntheticSource(16, 40, 40, seed=2, resample=False, lighting="fixed")
    scaled = SyntheticSource(16, 40, 40, seed=2, resample=False, lighting="fixed", scales=(2.0, 3.0))
    native = 0
    for i in range(16):
        a, b = plain.load(i), scaled.load(i)
        for key in ("depth", "normals", "mask"):  # the targets: the same scene at the source's own size
            np.testing.assert_array_equal(a[key], b[key])
        if b["image"].dtype == np.uint8:  # a quarter of the samples stay native renders
            np.testing.assert_array_equal(a["image"], b["image"])
            native += 1
            continue
        assert b["image"].shape == (40, 40, 3) and b["image"].dtype == np.float32
        side = round(40 * _draw_scale(np.random.default_rng([2, 0, i, 1]), 2.0, 3.0))
        assert 80 <= side <= 120  # 2x-3x the size, and exactly the shrunk render of that size
        large = render(np.random.default_rng([2, 0, i]), side, side, lighting="fixed").image
        np.testing.assert_allclose(b["image"], shrink(large, (40, 40)), atol=1e-4)
        inside = a["mask"]
        assert np.abs(b["image"][inside] - a["image"][inside].astype("float32")).mean() < 12  # of 255: same shading
    assert 1 <= native <= 10


@pytest.mark.parametrize("scales", [(0.5, 2.0), (3.0, 2.0), (2.0,), "2"])
def test_bad_scales_are_refused_by_name(scales):
    with pytest.raises(ValueError, match="`scales` must be None or a pair"):
        SyntheticSource(4, 32, 32, scales=scales)
