"""Fine-tune the pretrained UNet on your own captures: encoder frozen first, then everything; save and reload.

    python examples/finetune.py DATA_DIR --out runs/finetuned [--weights true|PRESET|FOLDER]

DATA_DIR is laid out like the textureless deformable-surfaces dataset (see `keras_patchnet.data.TexlessDataset`):
`<object>/images/<sequence>/rgb_0001.png`, `<object>/depth_maps/<sequence>/depth_0001.npz` (key "depth", metres,
0 on background) and `<object>/normals/<sequence>/normals_0001.npz` (key "normals", unit, camera frame, pointing to
the camera, 0 on background); whole sequences are held out for testing. Training is on patches, as the report does.
"""

import argparse
import os

import keras
import numpy as np

import keras_patchnet as kp


def set_encoder_trainable(patch_model, trainable):
    for layer in patch_model.layers:
        if layer.name.startswith("encoder"):
            layer.trainable = trainable


def fit_stage(model, data, epochs, lr):
    net = model.patch_model
    net.compile(optimizer=keras.optimizers.Adam(lr), loss=kp.losses.patchnet_losses())
    kp.training.build_for_fit(net, data)  # optional: on TensorFlow, `fit` then traces its step once, not twice
    return net.fit(data, epochs=epochs, verbose=2).history["loss"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("data")
    p.add_argument("--out", default="runs/finetuned")
    p.add_argument("--weights", default="true")
    p.add_argument("--frozen-epochs", type=int, default=3)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=4)
    args = p.parse_args(argv)

    model = kp.models.unet(pretrained=True if args.weights == "true" else args.weights)
    train, test = kp.data.TexlessDataset(args.data).split(by="sequence")
    data = kp.data.PatchNetDataset(
        train,
        batch_size=args.batch_size,
        mode="patches",
        augment=True,
        **model.data_settings,  # the model's grid and intensity
    )
    before = kp.evaluation.evaluate_dataset(model, test)["model"]

    set_encoder_trainable(model.patch_model, False)  # 1. adapt the decoders to the new images
    losses = fit_stage(model, data, args.frozen_epochs, 1e-3)
    set_encoder_trainable(model.patch_model, True)  # 2. then everything, more gently
    losses += fit_stage(model, data, args.epochs, 2e-4)

    after = kp.evaluation.evaluate_dataset(model, test)["model"]
    folder = kp.hub.save_preset(
        model,
        args.out,
        name="unet.finetuned",
        metadata={
            "training": {"from": str(args.weights), "data": os.path.abspath(args.data), "losses": losses},
            "metrics": {"model": after},
        },
    )
    reloaded = kp.models.unet(pretrained=folder)  # what a user of the folder gets
    image = test.load(0)["image"][None].astype("float32")
    np.testing.assert_allclose(
        np.asarray(reloaded.predict_on_batch(image)["depth"]),
        np.asarray(model.predict_on_batch(image)["depth"]),
        atol=1e-5,
    )
    for key in ("depth_mae_mm", "mean_angle_deg"):
        print(f"{key}: {before[key]['mean']:.2f} -> {after[key]['mean']:.2f} (held-out sequences)")
    print(f"saved to {folder}; reload with keras_patchnet.models.unet(pretrained={folder!r})")
    return losses, before, after


if __name__ == "__main__":
    main()
