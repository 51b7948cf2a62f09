"""Pretrained weights: not published yet."""


def load_pretrained(name, pretrained, **kwargs):
    raise ValueError(
        f"No pretrained weights are available for {name!r} yet (pretrained={pretrained!r}); "
        "build the model with pretrained=False and train it."
    )
