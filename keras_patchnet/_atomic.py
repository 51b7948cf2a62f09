"""Files written whole or not at all: a temporary name in the same folder, then a rename (atomic on POSIX and on
Windows for the same volume). Used by everything that writes outputs (`io.save_prediction`, `hub.save_preset`, the
CLI's commands)."""

import contextlib
import os


@contextlib.contextmanager
def atomic_files():
    """Yields `temp(path)`, which names a temporary file beside `path` with the same extension. When the block ends
    without error every temporary file is renamed to its path; on an error (or Ctrl-C) each is removed, so a
    half-written file never appears under a final name and nothing is left behind."""
    pending = []

    def temp(path):
        folder, name = os.path.split(os.path.abspath(path))
        tmp = os.path.join(folder, f".tmp-{os.getpid()}-{len(pending)}-{name}")
        pending.append((tmp, path))
        return tmp

    try:
        yield temp
        for tmp, path in pending:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in pending:
            with contextlib.suppress(OSError):
                os.remove(tmp)
        raise


def write_text(path, text):
    """Writes `text` (UTF-8) to `path` atomically."""
    with atomic_files() as temp:
        with open(temp(path), "w", encoding="utf-8") as f:
            f.write(text)
