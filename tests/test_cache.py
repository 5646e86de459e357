"""Posterior cache integrity: only complete fits are written, every file is verified on load, bad files are
reported and refitted, loads live in memory, writes are atomic and an unwritable folder costs only the cache.

Fit-level tests use a tiny synthetic model (three indicators, 20 draws) compiled once per process; the
cache layer itself is tested on small fabricated posteriors."""

import importlib
import multiprocessing
import warnings

import arviz as az
import numpy as np
import pytest

from model import cache as cache_mod
from model.cache import CacheWarning
from model.fit import FitInterrupted, FitSettings, fit, stored_draws

fit_mod = importlib.import_module("model.fit")

TINY = dict(draws=20, tune=20, chains=2, seed=3)
OTHER = dict(TINY, draws=10)  # another key with another draw count


@pytest.fixture(scope="module")
def tiny_data():
    from test_fit import _synthetic

    return _synthetic()[0]


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "fits"
    monkeypatch.setattr(fit_mod, "CACHE_DIR", folder)
    return folder


@pytest.fixture(scope="module")
def tiny_files(tiny_data, tmp_path_factory):
    """A cached tiny fit and a cached fit of another key: (key, bytes of its file, bytes of the other file)."""
    folder = tmp_path_factory.mktemp("fits")
    real = fit_mod.CACHE_DIR
    fit_mod.CACHE_DIR = folder
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", CacheWarning)
            f = fit(tiny_data, **TINY)
            g = fit(tiny_data, **OTHER)
    finally:
        fit_mod.CACHE_DIR = real
    assert not f.from_cache and f.key != g.key
    return f.key, (folder / f"{f.key}.nc").read_bytes(), (folder / f"{g.key}.nc").read_bytes()


def _files(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _verified(path, key, settings):
    """The file at ``path`` loads and passes every check, without a warning."""
    s = FitSettings(**settings)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        return cache_mod.load(path, key, s.as_dict(), stored_draws(s)) is not None


# -- only a complete fit is written ---------------------------------------------------------------------------

def _interrupted_sample(keep):
    """The real sampler, then the trace as nutpie returns it after Ctrl-C: draws from ``keep`` on are NaN."""
    real = fit_mod._sample

    def sample(*args, **kwargs):
        idata = real(*args, **kwargs)
        for name, v in idata.posterior.data_vars.items():
            if v.dtype.kind == "f":
                arr = v.to_numpy().copy()
                arr[:, keep:] = np.nan
                idata.posterior[name] = (v.dims, arr)
        return idata

    return sample


def test_interrupted_fit_leaves_no_cache_file(tiny_data, cache_dir, monkeypatch):
    monkeypatch.setattr(fit_mod, "_sample", _interrupted_sample(keep=7))
    with pytest.raises(FitInterrupted, match=r"completed draws per chain: \[7, 7\]") as caught:
        fit(tiny_data, **TINY)
    assert isinstance(caught.value, KeyboardInterrupt)  # the command line reports it as Ctrl-C (exit 130)
    assert _files(cache_dir) == []
    monkeypatch.undo()
    monkeypatch.setattr(fit_mod, "CACHE_DIR", cache_dir)
    f = fit(tiny_data, **TINY)  # the next run fits afresh and caches a complete posterior
    assert not f.from_cache and np.isfinite(f.draws("x")).all()
    assert _files(cache_dir) == [f"{f.key}.nc"]


def test_short_trace_is_not_cached(tiny_data, cache_dir, monkeypatch):
    """PyMC returns fewer draws when interrupted."""
    real = fit_mod._sample
    monkeypatch.setattr(fit_mod, "_sample", lambda *a, **k: real(*a, **k).isel(draw=slice(0, 12)))
    with pytest.raises(FitInterrupted, match="2 chains × 12 draws of 2 × 20"):
        fit(tiny_data, **TINY)
    assert _files(cache_dir) == []


@pytest.mark.parametrize("where", ["_sample", "_compile"])
def test_ctrl_c_during_compile_or_sampling_writes_nothing(where, tiny_data, cache_dir, monkeypatch):
    def interrupt(*a, **k):
        raise KeyboardInterrupt

    if where == "_compile":
        monkeypatch.setattr(fit_mod, "_COMPILED", {})  # force a compilation
    monkeypatch.setattr(fit_mod, where, interrupt)
    with pytest.raises(KeyboardInterrupt):
        fit(tiny_data, **TINY)
    assert _files(cache_dir) == []


def test_ctrl_c_while_writing_leaves_no_temporary_file(tiny_data, cache_dir, monkeypatch):
    def half_written(idata, tmp):
        tmp.write_bytes(b"\x89HDF partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(cache_mod, "_write", half_written)
    with pytest.raises(KeyboardInterrupt):
        fit(tiny_data, **TINY)
    assert _files(cache_dir) == []


# -- bad files are reported, moved aside and refitted -----------------------------------------------------------

BAD = {
    "truncated": (lambda good, other: good[: len(good) // 2], "unreadable"),
    "garbage": (lambda good, other: bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)),
                "unreadable"),
    "zero-byte": (lambda good, other: b"", "unreadable"),
    "foreign": (lambda good, other: other, r"written for key \w+, not \w+; settings .*claims 20 draws, expected 40"),
}


@pytest.mark.parametrize("kind", list(BAD))
def test_bad_file_is_reported_moved_aside_and_refitted(kind, tiny_data, tiny_files, cache_dir):
    key, good, other = tiny_files
    make, reason = BAD[kind]
    bad = make(good, other)
    cache_dir.mkdir(parents=True)
    path = cache_dir / f"{key}.nc"
    path.write_bytes(bad)
    with pytest.warns(CacheWarning, match=rf"{path}.*{reason}.*moved to .*{key}\.bad-1\.nc; refitting"):
        f = fit(tiny_data, **TINY)
    assert not f.from_cache and f.key == key
    assert f.draws("x").shape[0] == 40 and np.isfinite(f.draws("x")).all()
    assert (cache_dir / f"{key}.bad-1.nc").read_bytes() == bad  # kept for inspection, not deleted
    assert _verified(path, key, TINY)  # the fresh fit replaced it
    assert fit(tiny_data, **TINY).from_cache


# -- the cache layer -------------------------------------------------------------------------------------------

def _idata(seed=0, chains=2, draws=30):
    rng = np.random.default_rng(seed)
    return az.from_dict(posterior={"mu": rng.normal(size=(chains, draws, 3)),
                                   "x_all": rng.normal(size=(chains, draws, 3, 400))},
                        sample_stats={"diverging": rng.random((chains, draws)) < 0.1},
                        coords={"series": ["gdp", "长治", "c"]}, dims={"mu": ["series"], "x_all": ["series", "year"]},
                        attrs={"diagnostics": '{"max_rhat": 1.02}'})


SETTINGS = {"draws": 30, "chains": 2, "seed": 1}


def test_store_then_load_round_trip(tmp_path):
    path = tmp_path / "k1.nc"
    written = _idata()
    assert cache_mod.store(path, written, "k1", SETTINGS, 60)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        read = cache_mod.load(path, "k1", SETTINGS, 60)
    np.testing.assert_array_equal(read.posterior["x_all"].to_numpy(), written.posterior["x_all"].to_numpy())
    assert read.attrs["cache_checksum"] == cache_mod.checksum(read) == written.attrs["cache_checksum"]
    assert _files(tmp_path) == ["k1.nc"]


@pytest.mark.parametrize("change, wrong", [
    (lambda d: d.attrs.update(cache_key="k2"), "written for key k2, not k1"),
    (lambda d: d.attrs.update(cache_settings='{"draws": 3000}'), "settings"),
    (lambda d: d.attrs.update(cache_draws=3000), "claims 3000 draws, expected 60"),
    (lambda d: d.posterior["mu"].data.__setitem__((0, 0, 0), 9.0), "checksum mismatch"),
    (lambda d: d.attrs.update(diagnostics='{"max_rhat": 1.0}'), "checksum mismatch"),
    (lambda d: [d.attrs.pop(a) for a in cache_mod.ATTRS], "no cache_key, cache_settings"),
])
def test_each_check_fails_on_its_own(change, wrong):
    idata = _idata()
    cache_mod.stamp(idata, "k1", SETTINGS, 60)
    assert cache_mod.problems(idata, "k1", SETTINGS, 60) == []
    change(idata)
    assert any(wrong in p for p in cache_mod.problems(idata, "k1", SETTINGS, 60)), cache_mod.problems(
        idata, "k1", SETTINGS, 60)


def test_forged_stamp_on_fewer_draws_is_caught(tmp_path):
    """A 60-draw posterior stamped (checksum and all) as if it had 120 draws: the draws held are counted."""
    idata = _idata()
    cache_mod.stamp(idata, "k1", SETTINGS, 120)
    assert cache_mod.problems(idata, "k1", SETTINGS, 120) == ["holds 60 draws (chains × draws), expected 120"]


def test_bad_file_never_overwrites_an_earlier_one(tmp_path):
    path = tmp_path / "k1.nc"
    (tmp_path / "k1.bad-1.nc").write_bytes(b"first")
    path.write_bytes(b"second")
    with pytest.warns(CacheWarning, match="moved to .*k1.bad-2.nc"):
        assert cache_mod.load(path, "k1", SETTINGS, 60) is None
    assert (tmp_path / "k1.bad-1.nc").read_bytes() == b"first" and (tmp_path / "k1.bad-2.nc").read_bytes() == b"second"
    assert not path.exists()


def _store_worker(path, seed, barrier, rounds):
    barrier.wait()
    return [cache_mod.store(path, _idata(seed), "k1", SETTINGS, 60) for _ in range(rounds)]


def test_concurrent_writes_of_one_key_both_finish(tmp_path):
    path = tmp_path / "k1.nc"
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager, ctx.Pool(2) as pool:
        barrier = manager.Barrier(2)
        jobs = [pool.apply_async(_store_worker, (path, seed, barrier, 8)) for seed in (1, 2)]
        results = [j.get(timeout=240) for j in jobs]
    assert results == [[True] * 8, [True] * 8]
    assert _files(tmp_path) == ["k1.nc"]  # no temporary file left behind
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        final = cache_mod.load(path, "k1", SETTINGS, 60)
    assert any(np.array_equal(final.posterior["mu"].to_numpy(), _idata(s).posterior["mu"].to_numpy()) for s in (1, 2))


# -- an unwritable folder costs only the cache -----------------------------------------------------------------

def test_cache_folder_under_a_file_returns_the_fit_with_a_warning(tiny_data, tmp_path, monkeypatch):
    (tmp_path / "plain").write_text("not a folder")
    folder = tmp_path / "plain" / "fits"
    monkeypatch.setattr(fit_mod, "CACHE_DIR", folder)
    with pytest.warns(CacheWarning, match=rf"cache folder {folder} cannot be written.*not cached"):
        f = fit(tiny_data, **TINY)
    assert not f.from_cache and f.draws("x").shape[0] == 40
    assert _files(tmp_path) == ["plain"]


def test_permission_denied_returns_the_fit_with_a_warning(tiny_data, cache_dir, monkeypatch):
    def denied(idata, tmp):
        raise PermissionError(13, "Permission denied", str(tmp))

    monkeypatch.setattr(cache_mod, "_write", denied)
    with pytest.warns(CacheWarning, match=rf"cache folder {cache_dir} cannot be written \(PermissionError"):
        f = fit(tiny_data, **TINY)
    assert not f.from_cache and np.isfinite(f.draws("x")).all()
    assert _files(cache_dir) == []  # the temporary file is gone too


def test_any_failed_write_keeps_the_fit(tmp_path, monkeypatch):
    def broken(idata, tmp):
        tmp.write_bytes(b"half")
        raise ValueError("cannot encode variable")

    monkeypatch.setattr(cache_mod, "_write", broken)
    with pytest.warns(CacheWarning, match=r"k1.nc could not be written \(ValueError: cannot encode variable\)"):
        assert cache_mod.store(tmp_path / "k1.nc", _idata(), "k1", SETTINGS, 60) is False
    assert _files(tmp_path) == []


# -- a loaded posterior lives in memory ------------------------------------------------------------------------

def test_loaded_fit_survives_deletion_of_its_file(tiny_data, tiny_files, cache_dir):
    from xarray.backends.file_manager import FILE_CACHE

    key, good, _ = tiny_files
    cache_dir.mkdir(parents=True)
    path = cache_dir / f"{key}.nc"
    path.write_bytes(good)
    f = fit(tiny_data, **TINY)
    assert f.from_cache
    for group in f.idata.groups():
        for name, v in f.idata[group].variables.items():
            assert v._in_memory, (group, name)
    path.unlink()
    for k in list(FILE_CACHE.keys()):  # what xarray does when its open-file cache fills: lazy data re-opens
        del FILE_CACHE[k]
    x = f.draws("x")
    assert x.shape[0] == 40 and np.isfinite(x).all()
    assert f.predict(f.observations.head(3), n_draws=20)["mean"].notna().any()
