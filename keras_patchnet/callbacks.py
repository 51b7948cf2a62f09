"""Callbacks of the training recipe: a time budget, a learning curve on stitched validation images next to the
flat plane, and logs that a resumed run writes exactly once. Plain Python at import."""

import json
import os
import time


def time_budget(seconds):
    """A callback that stops training at the end of the first epoch ending past `seconds` (resumable runs pick up
    from there)."""
    import keras

    class TimeBudget(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.start = time.time()

        def on_epoch_end(self, epoch, logs=None):
            if time.time() - self.start > seconds:
                self.model.stop_training = True

    return TimeBudget()


def resume_logs(backup_dir, files):
    """A callback, to be listed before the loggers, that makes a resumed run write every epoch's row exactly once.

    `files` is [(csv path, epoch column, offset)]: a row counts as written after epoch `row[column] + offset` (1 for
    Keras' 0-based `CSVLogger`, 0 for `validation_curve`). When training begins, rows that the backup in
    `backup_dir` (`keras.callbacks.BackupAndRestore`, listed last, so it saves after every logger has written) does
    not cover are dropped, as is a row cut short by a kill; the epochs they came from run again and write them anew.
    """
    import csv
    import io

    import keras

    from keras_patchnet._atomic import write_text

    def done_epochs():
        path = os.path.join(backup_dir, "training_metadata.json")
        try:
            with open(path) as f:
                return int(json.load(f)["epoch"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0

    class ResumeLogs(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            done = done_epochs()
            for path, column, offset in files:
                if not os.path.isfile(path):
                    continue
                with open(path, newline="") as f:
                    reader = csv.DictReader(f)
                    fields, rows = reader.fieldnames, list(reader)
                kept = []
                for row in rows:
                    try:
                        complete = None not in row.values() and None not in row
                        if complete and int(row[column]) + offset <= done:
                            kept.append(row)
                    except (TypeError, ValueError):
                        pass
                if len(kept) != len(rows):
                    table = io.StringIO()
                    writer = csv.DictWriter(table, fieldnames=fields, lineterminator="\n")
                    writer.writeheader()
                    writer.writerows(kept)
                    write_text(path, table.getvalue())

    return ResumeLogs()


def validation_curve(predict, depth, normals, path, start=None, more=()):
    """A callback that appends, after every epoch, one row to the CSV file `path`: epoch, seconds, training loss,
    the stitched validation depth MAE (mm) and mean angle (deg) of `predict()` -> (depth,
    normals)), the flat plane's, and their ratios (the learning curve a preset ships with). `predict` is given the
    images bound in the closure; `depth` and `normals` are the validation truth. `more`: further validation sets
    as (label, predict, depth, normals), each adding the columns depth_ratio_<label> and angle_ratio_<label>."""
    import csv

    import keras

    from keras_patchnet.evaluation import flat_plane
    from keras_patchnet.metrics import evaluate_maps

    def flat_of(depth, normals):
        flat_depth, flat_normals = flat_plane(depth, normals)
        return evaluate_maps(depth, flat_depth, normals, flat_normals)["mean"]

    flat = flat_of(depth, normals)
    more = [(label, p, d, n, flat_of(d, n)) for label, p, d, n in more]

    class Curve(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.start = time.time() if start is None else start

        def on_epoch_end(self, epoch, logs=None):
            predicted_depth, predicted_normals = predict()
            m = evaluate_maps(depth, predicted_depth, normals, predicted_normals)["mean"]
            row = dict(
                epoch=epoch + 1,
                seconds=round(time.time() - self.start),
                loss=round((logs or {}).get("loss", float("nan")), 4),
                depth_mm=round(m["depth_mae_mm"], 2),
                angle_deg=round(m["mean_angle_deg"], 2),
                flat_depth_mm=round(flat["depth_mae_mm"], 2),
                flat_angle_deg=round(flat["mean_angle_deg"], 2),
                depth_ratio=round(m["depth_mae_mm"] / flat["depth_mae_mm"], 3),
                angle_ratio=round(m["mean_angle_deg"] / flat["mean_angle_deg"], 3),
            )
            for label, predict_more, d, n, f in more:
                pd, pn = predict_more()
                m = evaluate_maps(d, pd, n, pn)["mean"]
                row[f"depth_ratio_{label}"] = round(m["depth_mae_mm"] / f["depth_mae_mm"], 3)
                row[f"angle_ratio_{label}"] = round(m["mean_angle_deg"] / f["mean_angle_deg"], 3)
            new = not os.path.exists(path)
            with open(path, "a", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=list(row))
                if new:
                    writer.writeheader()
                writer.writerow(row)
            print("curve:", row, flush=True)

    return Curve()
