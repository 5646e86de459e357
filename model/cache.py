"""Posterior cache: one verified netCDF file per fit key, written only whole and read only when it checks out.

A file ``<folder>/<key>.nc`` holds one :class:`arviz.InferenceData` and, in its root attributes, what it claims
to be and a checksum of what it is:

``cache_key``
    the fit key (:func:`model.fit._cache_key`: data, settings, code, versions) the file was written under;
``cache_settings``
    the sampler settings as sorted JSON;
``cache_draws``
    chains × stored draws of the posterior;
``cache_checksum``
    sha256 of every group's variables and coordinates (names, dims, dtypes, shapes, values) and of every other
    root attribute: :func:`checksum`. The checksum attribute itself is not hashed, so it is verified on load by
    recomputing it from the data read.

:func:`load` reads the whole file into memory and closes it (a later deletion or replacement of the file
cannot touch the posterior in use) and returns it only when it is readable, carries the key, settings and draw
count asked for, holds that many draws and its checksum matches. Anything else is reported with a
:class:`CacheWarning` naming the file and what is wrong, and the file is **moved aside** to
``<key>.bad-<n>.nc`` (kept for inspection, never deleted; delete such files once looked at); the caller
refits. A bad file that cannot be moved (read-only folder) is left in place and overwritten by the next
successful write.

:func:`store` stamps the attributes and writes atomically: a uniquely named temporary file in the same folder
(``tempfile.mkstemp``), then ``os.replace`` onto ``<key>.nc``, so readers see the old file or the new one, never
a part, and processes writing the same key concurrently each write their own temporary file (the last
replace wins; both files are complete). The temporary file is removed on every failure, Ctrl-C included.
A folder that cannot be created or written is reported with a :class:`CacheWarning` naming it (any other
failure to write, with one naming the file), and the posterior is simply not cached: a finished fit is
never thrown away for want of a cache.

This module decides nothing about the posterior itself, so it is not part of the fit key
(:data:`model.fit.MODEL_SOURCES`): changing it does not invalidate cached posteriors, and a file written by an
older format is rejected by the checks above and refitted.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path

import arviz as az
import numpy as np

ATTRS = ("cache_key", "cache_settings", "cache_draws", "cache_checksum")
"""Root attributes every cache file carries."""


class CacheWarning(UserWarning):
    """A cache file was bad (and is not used) or the cache folder could not be written."""


def _canonical(settings: dict) -> str:
    return json.dumps(settings, sort_keys=True)


def _update_array(h, arr: np.ndarray) -> None:
    arr = np.asarray(arr)
    h.update(repr(arr.shape).encode())
    if arr.dtype.kind in "biufcmM":
        h.update(arr.dtype.str.encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    else:  # strings: fixed-width or object after a round trip through netCDF, so hash the text
        h.update(json.dumps([str(v) for v in arr.ravel()], ensure_ascii=False).encode())


def checksum(idata: az.InferenceData) -> str:
    """sha256 over every group's variables and coordinates and every root attribute but ``cache_checksum``."""
    h = hashlib.sha256()
    for group in sorted(idata.groups()):
        ds = idata[group]
        for kind, names in (("var", sorted(ds.data_vars)), ("coord", sorted(ds.coords))):
            for name in names:
                da = ds[name]
                h.update(f"{group}/{kind}/{name}/{','.join(map(str, da.dims))}".encode())
                _update_array(h, da.to_numpy())
    attrs = {k: str(v) for k, v in idata.attrs.items() if k != "cache_checksum"}
    h.update(json.dumps(attrs, sort_keys=True, ensure_ascii=False).encode())
    return h.hexdigest()


def stamp(idata: az.InferenceData, key: str, settings: dict, draws: int) -> None:
    """Write the key, settings, draw count and (last, over all of them) the checksum into ``idata.attrs``."""
    idata.attrs.update(cache_key=key, cache_settings=_canonical(settings), cache_draws=int(draws))
    idata.attrs["cache_checksum"] = checksum(idata)


def problems(idata: az.InferenceData, key: str, settings: dict, draws: int) -> list[str]:
    """What is wrong with a posterior read from the cache for ``key`` (empty when it may be used)."""
    attrs = idata.attrs
    missing = [a for a in ATTRS if a not in attrs]
    if missing:
        return [f"no {', '.join(missing)} (written by an older version or not by this program)"]
    out = []
    if str(attrs["cache_key"]) != key:
        out.append(f"written for key {attrs['cache_key']}, not {key}")
    if str(attrs["cache_settings"]) != _canonical(settings):
        out.append(f"settings {attrs['cache_settings']} instead of {_canonical(settings)}")
    try:
        claimed = int(attrs["cache_draws"])
    except (TypeError, ValueError):
        claimed = None
    if claimed != draws:
        out.append(f"claims {attrs['cache_draws']} draws, expected {draws}")
    if "posterior" not in idata.groups():
        out.append("no posterior group")
    else:
        post = idata.posterior
        held = int(post.sizes.get("chain", 0)) * int(post.sizes.get("draw", 0))
        if held != draws:
            out.append(f"holds {held} draws (chains × draws), expected {draws}")
    if str(attrs["cache_checksum"]) != checksum(idata):
        out.append("checksum mismatch (content changed after it was written)")
    return out


def _read(path: Path) -> az.InferenceData:
    """The whole file in memory, file closed (arviz's eager mode loads each group inside ``with``)."""
    with az.rc_context({"data.load": "eager"}):
        idata = az.from_netcdf(str(path))
    for group in idata.groups():  # belt and braces: nothing may stay backed by the file
        idata[group].load()
    return idata


def load(path: Path, key: str, settings: dict, draws: int) -> az.InferenceData | None:
    """The verified posterior at ``path``, in memory; ``None`` when there is none or it is bad.

    A bad file (unreadable, or failing :func:`problems`) is reported with a :class:`CacheWarning` naming the
    path and what is wrong, and moved aside to ``<key>.bad-<n>.nc`` (see the module docstring)."""
    path = Path(path)
    try:
        before = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):  # no file (a folder under a plain file: store reports it)
        return None
    except OSError as e:
        _warn(f"posterior cache file {path} cannot be read ({e.strerror or e}); refitting")
        return None
    try:
        idata = _read(path)
    except FileNotFoundError:  # removed since the stat: another process moved it aside
        return None
    except Exception as e:  # noqa: BLE001 -- h5py, h5netcdf and xarray raise OSError, ValueError, KeyError, ...
        reason = f"unreadable ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'no message'})"
        _reject(path, before, reason)
        return None
    wrong = problems(idata, key, settings, draws)
    if wrong:
        _reject(path, before, "; ".join(wrong))
        return None
    return idata


def _reject(path: Path, seen: os.stat_result, reason: str) -> None:
    """Report a bad file and move it aside, unless it is no longer the file that was read."""
    try:
        now = os.stat(path)
        if (now.st_ino, now.st_mtime_ns, now.st_size) != (seen.st_ino, seen.st_mtime_ns, seen.st_size):
            _warn(f"posterior cache file {path} is not used: {reason}; it has since been replaced, refitting")
            return
        n = 1
        while (aside := path.with_name(f"{path.stem}.bad-{n}.nc")).exists():
            n += 1
        os.replace(path, aside)
        where = f"moved to {aside}"
    except FileNotFoundError:
        where = "already removed"
    except OSError as e:
        where = f"left in place, it cannot be moved ({e.strerror or e}); the new fit will overwrite it"
    _warn(f"posterior cache file {path} is not used: {reason}; {where}; refitting")


def store(path: Path, idata: az.InferenceData, key: str, settings: dict, draws: int) -> bool:
    """Stamp ``idata`` (:func:`stamp`) and write it atomically to ``path``; False (with a warning) when the folder
    cannot be written. Any temporary file is removed on every failure; Ctrl-C propagates."""
    path = Path(path)
    stamp(idata, key, settings, draws)
    folder = path.parent
    tmp = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=folder, prefix=f"{path.stem}.", suffix=".tmp")
        tmp = Path(name)
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp's 0600 would hide the cache from the folder's other users
        _write(idata, tmp)
        os.replace(tmp, path)
        tmp = None
        return True
    except OSError as e:
        _warn(f"posterior cache folder {folder} cannot be written ({type(e).__name__}: {e.strerror or e}); "
              "the fit is used but not cached")
        return False
    except Exception as e:  # noqa: BLE001 -- a failed write must not throw away a finished fit
        _warn(f"posterior cache file {path} could not be written ({type(e).__name__}: {e}); "
              "the fit is used but not cached")
        return False
    finally:
        if tmp is not None:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass  # the write's own error (or Ctrl-C) is what matters


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def _write(idata: az.InferenceData, tmp: Path) -> None:
    idata.to_netcdf(str(tmp))


def _warn(message: str) -> None:
    warnings.warn(message, CacheWarning, stacklevel=3)
