"""One spelling per input of a batch job, so resumption and de-duplication compare items, not
strings: ``batch_in/a.jpg``, ``./batch_in/a.jpg`` and ``/abs/batch_in/a.jpg`` are one image, and
``S3://bucket//photos/./a.jpg`` is ``s3://bucket/photos/a.jpg``.

Inputs are normalised once, where the job lists them, and the rows and the failure report store
the normalised form; what was written before (by an older version, or listed from another
working directory) is normalised again when a rerun reads it back.
"""

from __future__ import annotations

import os
import posixpath
from functools import lru_cache

from sensorium.pipeline.batch.storage import is_remote


@lru_cache(maxsize=4096)
def _real_folder(folder: str) -> str:
    # one syscall walk per folder, not per image: a million images in a few folders stay cheap
    return os.path.realpath(folder)


def normalise_path(path: str) -> str:
    """The one spelling of a local path or an object URI.

    Local (also ``file://``): absolute, ``.``/``..`` and repeated slashes removed, the folders'
    symbolic links resolved, and the file's own name kept (a link to a photo is its own item,
    and a dangling one fails by its name). Object URI: the scheme in lower case, the bucket as
    given, repeated slashes and ``.``/``..`` segments removed from the key (never above the bucket).
    """
    path = str(path)
    if path[:7].lower() == "file://":
        path = path[7:]
    if is_remote(path):
        scheme, _, rest = path.partition("://")
        bucket, _, key = rest.partition("/")
        key = posixpath.normpath("/" + key).lstrip("/") if key else ""
        return f"{scheme.lower()}://{bucket}/{key}" if key else f"{scheme.lower()}://{bucket}"
    absolute = os.path.abspath(os.path.expanduser(path))
    folder, name = os.path.split(absolute)
    return os.path.join(_real_folder(folder), name) if name else _real_folder(folder)
