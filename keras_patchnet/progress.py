"""Progress for loops over images and batches: Keras' progress bar on a terminal, one plain line a step elsewhere
(a file or a pipe, where the bar's escape codes would be noise). Plain Python at import."""

import sys


class PlainProgress:
    """One plain line per step: `<unit> <current>/<total>`."""

    def __init__(self, total, unit_name):
        self.total, self.unit_name = total, unit_name

    def update(self, current):
        print(f"{self.unit_name} {current}/{self.total}", flush=True)


def progress_bar(total, unit_name):
    """Keras' progress bar on a terminal, `PlainProgress` when output goes to a file or a pipe."""
    if sys.stdout.isatty():
        import keras

        return keras.utils.Progbar(total, unit_name=unit_name)
    return PlainProgress(total, unit_name)
