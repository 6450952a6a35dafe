"""labkit.interpret: Grad-CAM against closed-form oracles, filters and activation maps."""
from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from labkit import interpret  # noqa: E402


def _cam_model(kernel: np.ndarray, head: np.ndarray, h: int = 8, w: int = 8, c: int = 1):
    """input (h, w, c) -> conv1x1 (known kernel, no bias, linear) -> global average -> Dense (known W)."""
    x = inputs = keras.Input((h, w, c))
    conv = keras.layers.Conv2D(kernel.shape[-1], 1, use_bias=False, name="feat")
    x = conv(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    dense = keras.layers.Dense(head.shape[1], use_bias=False, name="head")
    out = dense(x)
    model = keras.Model(inputs, out)
    conv.kernel.assign(kernel.reshape(1, 1, c, -1).astype("float32"))
    dense.kernel.assign(head.astype("float32"))
    return model


def test_grad_cam_equals_class_activation_map_for_gap_dense():
    # For conv -> global average -> dense, d y_c / d A_ijk = W[k, c] / (h w), so Grad-CAM is the
    # class activation map relu(sum_k W[k, c] A_k) / (h w) (Zhou et al. 2016): an exact oracle.
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(3, 4))
    head = rng.normal(size=(4, 5))
    model = _cam_model(kernel, head, c=3)
    x = rng.normal(size=(2, 8, 8, 3)).astype("float32")
    feats = x @ kernel  # (2, 8, 8, 4)
    for c in range(5):
        want = np.maximum(feats @ head[:, c], 0) / 64.0
        got = interpret.grad_cam(model, x, class_index=c, upsample=False, normalize=False)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_grad_cam_points_at_the_evidence():
    # Feature 0 detects bright pixels and votes for class 0; feature 1 detects dark ones (class 1).
    kernel = np.array([[1.0, -1.0]])
    head = np.array([[1.0, 0.0], [0.0, 1.0]])
    model = _cam_model(kernel, head)
    x = np.zeros((1, 8, 8, 1), "float32")
    x[0, 2:4, 5:7, 0] = 1.0  # a bright square at rows 2-3, cols 5-6
    cam = interpret.grad_cam(model, x, class_index=0, upsample=False)
    assert cam.shape == (1, 8, 8)
    assert cam[0].max() == pytest.approx(1.0)
    np.testing.assert_array_equal(np.argwhere(cam[0] > 0.5), np.argwhere(x[0, ..., 0] > 0.5))
    x_dark = -x
    cam1 = interpret.grad_cam(model, x_dark, class_index=1, upsample=False)
    np.testing.assert_array_equal(cam1[0] > 0.5, x[0, ..., 0] > 0.5)


def _small_cnn(seed: int = 0):
    keras.utils.set_random_seed(seed)
    x = inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(6, 3, padding="same", name="c2")(x)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.Flatten()(x)
    out = keras.layers.Dense(3)(x)
    return keras.Model(inputs, out)


def test_grad_cam_matches_the_definition_computed_directly():
    # The definition computed by hand: a second model that maps the c2 activations to the logits,
    # differentiated with its own tape; nothing shared with grad_cam except Keras itself.
    model = _small_cnn()
    x = np.random.default_rng(1).random((3, 16, 16, 3)).astype("float32")
    feat_model = keras.Model(model.inputs[0], model.get_layer("c2").output)
    a = tf.convert_to_tensor(feat_model(x))
    head = keras.Sequential([keras.Input(a.shape[1:])] + model.layers[-3:])
    with tf.GradientTape() as tape:
        tape.watch(a)
        logits = head(a)
        score = tf.reduce_sum(logits[:, 2])
    g = tape.gradient(score, a).numpy()
    want = np.maximum((g.mean(axis=(1, 2), keepdims=True) * a.numpy()).sum(-1), 0)
    got = interpret.grad_cam(model, x, class_index=2, upsample=False, normalize=False)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_grad_cam_defaults_last_conv_and_predicted_class():
    model = _small_cnn()
    x = np.random.default_rng(2).random((4, 16, 16, 3)).astype("float32")
    assert interpret.last_conv_layer(model) == "c2"
    assert interpret.conv_layers(model) == ["c1", "c2"]
    pred = np.argmax(model.predict(x, verbose=0), axis=1)
    auto = interpret.grad_cam(model, x)
    named = interpret.grad_cam(model, x, class_index=pred, layer_name="c2")
    np.testing.assert_allclose(auto, named, atol=1e-6)
    assert auto.shape == (4, 16, 16) and auto.dtype == np.float32
    # normalised: each map is the raw (upsampled) map divided by its own peak, so every map peaks at 1
    raw = interpret.grad_cam(model, x, class_index=pred, layer_name="c2", normalize=False)
    peak = raw.max(axis=(1, 2), keepdims=True)
    assert (peak > 0).all(), "the test needs maps that are not all zero"
    np.testing.assert_allclose(auto, raw / peak, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(auto.max(axis=(1, 2)), 1.0, rtol=1e-6)
    assert auto.min() >= 0
    early = interpret.grad_cam(model, x[0], layer_name="c1")  # one image, an earlier layer
    assert early.shape == (1, 16, 16)


def test_grad_cam_works_on_a_sequential_model():
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, name="only"),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
    cam = interpret.grad_cam(model, np.ones((1, 8, 8, 1), "float32"), class_index=1)
    assert cam.shape == (1, 8, 8)


def test_grad_cam_rejects_bad_inputs():
    model = _small_cnn()
    x = np.zeros((2, 16, 16, 3), "float32")
    with pytest.raises(ValueError, match="no layer 'nope'"):
        interpret.grad_cam(model, x, layer_name="nope")
    with pytest.raises(ValueError, match="4-D"):
        interpret.grad_cam(model, x, layer_name=model.layers[-1].name)
    with pytest.raises(ValueError, match="class_index must be in"):
        interpret.grad_cam(model, x, class_index=3)
    with pytest.raises(ValueError, match="class_index must be None"):
        interpret.grad_cam(model, x, class_index=[0, 1, 2])
    with pytest.raises(ValueError, match="shape"):
        interpret.grad_cam(model, np.zeros((2, 8, 8, 3), "float32"))
    with pytest.raises(ValueError, match="uint8"):
        interpret.grad_cam(model, np.zeros((2, 16, 16, 3), np.uint8))
    dense = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="no Conv2D"):
        interpret.grad_cam(dense, np.zeros((1, 4), "float32"))
    with pytest.raises(TypeError, match="Keras model"):
        interpret.grad_cam("model", x)


def test_first_layer_filters_and_activation_maps():
    model = _small_cnn()
    f = interpret.first_layer_filters(model)
    k = model.get_layer("c1").kernel.numpy()
    assert f.shape == (4, 3, 3, 3)
    assert f.min() == pytest.approx(0) and f.max() == pytest.approx(1)
    # min-max scaling per filter keeps the order of the weights within each filter
    for i in range(4):
        np.testing.assert_array_equal(np.argsort(f[i].ravel()), np.argsort(k[..., i].ravel()))
    x = np.random.default_rng(3).random((2, 16, 16, 3)).astype("float32")
    maps = interpret.activation_maps(model, x)
    # oracle: a direct 3x3 'same' convolution + bias + relu in NumPy
    pad = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    want = np.zeros((2, 16, 16, 4))
    for i in range(3):
        for j in range(3):
            want += pad[:, i:i + 16, j:j + 16, :] @ k[i, j]
    want = np.maximum(want + model.get_layer("c1").bias.numpy(), 0)
    np.testing.assert_allclose(maps, want, rtol=1e-4, atol=1e-5)
    assert interpret.activation_maps(model, x, "c2").shape == (2, 8, 8, 6)


def test_overlay_blends_the_jet_colours_of_the_map_over_the_image():
    from matplotlib import colormaps

    rng = np.random.default_rng(4)
    image = rng.random((16, 16, 3)).astype("float32")
    cam = rng.random((16, 16)).astype("float32")
    heat = colormaps["jet"](cam)[..., :3]
    np.testing.assert_allclose(interpret.overlay(image, cam), 0.55 * image + 0.45 * heat, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(interpret.overlay(image, cam, alpha=0.0), image, atol=1e-7)
    np.testing.assert_allclose(interpret.overlay(image, cam, alpha=1.0), heat, atol=1e-6)
    # a map outside [0, 1] is clipped first, the result stays an image in [0, 1]
    np.testing.assert_allclose(interpret.overlay(image, cam * 3 - 1), 0.55 * image + 0.45 *
                               colormaps["jet"](np.clip(cam * 3 - 1, 0, 1))[..., :3], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="must match"):
        interpret.overlay(image, cam[:8])


def _shown(ax) -> np.ndarray:
    (im,) = ax.get_images()
    return np.asarray(im.get_array())


def test_plots_draw_the_given_images_maps_and_titles():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model = _small_cnn()
    x = np.random.default_rng(4).random((2, 16, 16, 3)).astype("float32")
    cams = interpret.grad_cam(model, x)

    fig = interpret.plot_grad_cam(x, cams, ["a", "b"], ncols=3)
    axes = fig.axes
    assert len(axes) == 3 and fig.get_suptitle() == "Grad-CAM"
    for i in range(2):
        np.testing.assert_allclose(_shown(axes[i]), interpret.overlay(x[i], cams[i]), rtol=1e-6)
        assert axes[i].get_title() == "ab"[i]
    assert axes[2].get_images() == [], "a spare panel stays empty"
    plt.close(fig)

    filters = interpret.first_layer_filters(model)
    fig = interpret.plot_filters(filters, ncols=3)
    assert len(fig.axes) == 6 and [len(a.get_images()) for a in fig.axes] == [1, 1, 1, 1, 0, 0]
    for i in range(4):
        np.testing.assert_allclose(_shown(fig.axes[i]), filters[i], rtol=1e-6)
    plt.close(fig)

    maps = interpret.activation_maps(model, x)[0]   # (16, 16, 4)
    fig = interpret.plot_activation_maps(x[0], maps, n=3, ncols=2)
    axes = np.array(fig.axes).reshape(3, 2)          # the input row, then 3 maps over 2 columns
    np.testing.assert_allclose(_shown(axes[0, 0]), x[0], rtol=1e-6)
    shown = [axes[1 + i // 2, i % 2] for i in range(3)]
    for i, ax in enumerate(shown):
        np.testing.assert_allclose(_shown(ax), maps[..., i], rtol=1e-6)
        assert ax.get_title() == f"ch {i}"
    assert axes[2, 1].get_images() == [] and axes[0, 1].get_images() == []
    plt.close(fig)
