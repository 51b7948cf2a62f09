"""The whole-image networks of the lighting study (a light estimator, a rig classifier), apart from the scripts
that train them, so that the study's scripts import in one direction only."""

THUMB = 64


def estimator(outputs=9, batch_norm=False, name="light_estimator", size=THUMB):
    """The whole-image CNN; `batch_norm`: each convolution followed by batch normalisation (without it, the rig
    classifier's loss stayed at ln 4 for 4 epochs: no learning at all)."""
    import keras
    from keras import layers

    inputs = keras.Input((size, size, 3))
    x = layers.Rescaling(1 / 255.0)(inputs)
    for filters in (16, 32, 64, 128):
        for strides in (1, 2):
            x = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=not batch_norm)(x)
            x = layers.ReLU()(layers.BatchNormalization()(x) if batch_norm else x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(128, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(outputs)(x), name=name)


# REFERENCE_NORMALS mirrored left-right (x -> -x): the straight-on normal and the ring's 90 and 270 degrees stay


def classifier(thumb=64):
    """The light estimator's CNN with batch normalisation and a 4-way softmax: the rig's probabilities, from a
    thumb x thumb thumbnail."""
    import keras

    head = estimator(4, batch_norm=True, size=thumb)
    return keras.Model(head.inputs, keras.layers.Softmax()(head.outputs[0]), name="classifier")
