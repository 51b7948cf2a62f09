"""`build_for_fit`: variables of a compiled model built before `fit` (used by `PatchNet.fit`, re-exported by
`keras_patchnet.training`). Plain Python at import: Keras is imported inside the function."""


def build_for_fit(model, data):
    """Creates the variables of a compiled `model`'s optimizer, loss and metrics before `model.fit`, from the specs
    of one batch: `data` is a `keras.utils.PyDataset` (its first batch is used) or one batch, (x, y) or
    (x, y, sample_weight), as a tuple or a list.

    Why: on TensorFlow (without a distribution strategy), Keras creates them inside the first trace of its train
    function, and a `tf.function` whose first trace creates variables is traced a second time
    (tensorflow/tensorflow#48851): the slowest part of starting `fit` is then done twice (the CLI's smallest
    training run: 46 s before, 33 s after, on this project's 2-core CPU). JAX and PyTorch build them before the
    first step already; there this only does it earlier. Call it after every `compile`: a new optimizer has no
    variables.
    """
    import keras

    if getattr(model, "optimizer", None) is None:
        raise ValueError("`model` must be compiled before `build_for_fit` (it builds the optimizer's variables).")
    batch = data[0] if isinstance(data, keras.utils.PyDataset) else data
    batch = tuple(batch) if isinstance(batch, list) else batch  # Keras reads a list batch as a tuple too
    if not isinstance(batch, tuple) or not 2 <= len(batch) <= 3:
        raise TypeError(
            "`data` must be a keras.utils.PyDataset or one batch (x, y) or (x, y, sample_weight). "
            f"Received: {type(data).__name__}"
        )
    build = getattr(model, "_symbolic_build", None)  # Keras' own step before a distributed fit, from a batch's specs
    if build is not None:
        build(data_batch=batch)
    elif not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
