"""Synthetic digits: render 0-9 with the fonts that ship with matplotlib.

The data-synthesis recipe used for text recognition: take real fonts, render the
characters, and randomise everything a real sample varies in - size, position,
rotation, stroke width, blur and contrast - so that a model trained on the renders
meets real handwriting with as little surprise as possible.

matplotlib bundles the DejaVu, STIX and Computer Modern families (``mpl-data/fonts/ttf``),
so no font is downloaded. Images follow MNIST's conventions: 28x28 uint8, white
strokes on black, the digit scaled into a box of about 20 pixels and centred by its
centre of mass.

Example::

    x, y = render_digits(5000, seed=0)        # (5000, 28, 28) uint8, (5000,) int64

Why labkit keeps its own: no library renders MNIST-style digits from fonts
(scikit-learn's ``load_digits`` is 8x8 scans, Keras has no synthetic data).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Sequence

import matplotlib
import numpy as np

from labkit.validation import check_int, check_number, check_numbers

__all__ = ["font_paths", "render_digits", "DEFAULT_FONTS"]

# Fonts with ordinary (not symbol) digit glyphs, from matplotlib's mpl-data/fonts/ttf.
DEFAULT_FONTS: tuple[str, ...] = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf",
    "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf", "DejaVuSerif-BoldItalic.ttf", "STIXGeneral.ttf", "STIXGeneralBol.ttf",
    "STIXGeneralItalic.ttf", "STIXGeneralBolIta.ttf", "cmr10.ttf", "cmss10.ttf", "cmtt10.ttf", "cmb10.ttf",
    "cmti10.ttf",
)
_RENDER_PT = 48  # glyphs are drawn large, then transformed and scaled down (anti-aliasing)


def _font_dir() -> Path:
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def font_paths(names: Sequence[str] | None = None) -> list[Path]:
    """Paths of the bundled fonts ``names`` (default :data:`DEFAULT_FONTS`) that exist."""
    return _font_paths(names, "names")


def _font_paths(names, arg: str) -> list[Path]:
    if names is None:
        names = DEFAULT_FONTS
    elif isinstance(names, str):
        names = (names,)  # one font
    elif not isinstance(names, (Sequence, np.ndarray)):
        raise TypeError(f"{arg} must be a list of font file names, got {type(names).__name__}.")
    names = tuple(names)
    wrong = [n for n in names if not isinstance(n, str)]
    if wrong:
        raise TypeError(f"{arg} must hold font file names (strings) such as 'DejaVuSans.ttf', got {wrong!r}.")
    if not names:
        raise ValueError(f"{arg} is empty; give at least one font name, e.g. 'DejaVuSans.ttf'.")
    folder = _font_dir()
    found = [folder / n for n in names if (folder / n).is_file()]
    if not found:
        available = ", ".join(sorted(p.name for p in folder.glob("*.ttf"))[:12])
        raise ValueError(f"{arg}: none of {list(names)} is in {folder}; available fonts include: {available}, ...")
    return found


@lru_cache(maxsize=64)
def _font(path: str):
    from PIL import ImageFont

    return ImageFont.truetype(path, _RENDER_PT)


def _range(name: str, value, low: float, high: float) -> tuple[float, float]:
    pair = check_numbers(value, name, min_len=0)
    if len(pair) != 2:
        raise ValueError(f"{name} must be a (min, max) pair, got {value!r}.")
    a, b = pair
    if not (low <= a <= b <= high):
        raise ValueError(f"{name} must satisfy {low} <= min <= max <= {high}, got {value!r}.")
    return a, b


@lru_cache(maxsize=2048)
def _glyph(digit: int, font_path: str, thickness: int):
    """The digit drawn large (white on black) and cropped; cached per font/thickness."""
    from PIL import Image, ImageDraw, ImageFilter

    canvas = Image.new("L", (2 * _RENDER_PT, 2 * _RENDER_PT), 0)
    ImageDraw.Draw(canvas).text((_RENDER_PT // 2, _RENDER_PT // 3), str(digit), fill=255, font=_font(font_path))
    if thickness > 0:  # thicker strokes: a max filter (dilation) at the large scale
        canvas = canvas.filter(ImageFilter.MaxFilter(2 * thickness + 1))
    return canvas.crop(canvas.getbbox())


def _render_one(digit: int, font_path: str, angle: float, thickness: int, height: float, blur: float,
                contrast: float, dx: float, dy: float, size: int) -> np.ndarray:
    from PIL import Image, ImageFilter

    canvas = _glyph(digit, font_path, thickness).rotate(angle, resample=Image.Resampling.BILINEAR, expand=True)
    box = canvas.getbbox()
    if box is None:  # pragma: no cover - every listed font has digit glyphs
        raise ValueError(f"font {font_path} rendered an empty {digit}")
    glyph = canvas.crop(box)
    w, h = glyph.size
    scale = height / max(w, h) if w > h else height / h
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    glyph = glyph.resize((new_w, new_h), Image.Resampling.LANCZOS)
    if blur > 0:
        glyph = glyph.filter(ImageFilter.GaussianBlur(blur))
    g = np.asarray(glyph, dtype=np.float64)
    # centre of mass at the image centre (as MNIST), then the random shift
    total = g.sum() or 1.0
    cy, cx = (np.arange(g.shape[0]) @ g.sum(1)) / total, (np.arange(g.shape[1]) @ g.sum(0)) / total
    top, left = round(size / 2 - cy + dy - 0.5), round(size / 2 - cx + dx - 0.5)
    out = np.zeros((size, size))
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + g.shape[0], size), min(left + g.shape[1], size)
    if y1 > y0 and x1 > x0:
        out[y0:y1, x0:x1] = g[y0 - top:y1 - top, x0 - left:x1 - left]
    peak = out.max() or 1.0
    return np.clip(out / peak * 255.0 * contrast, 0, 255).round().astype(np.uint8)


def render_digits(n: int, *, seed: int = 0, size: int = 28, fonts: Sequence[str] | None = None,
                  height: tuple[float, float] = (15, 21), rotation: tuple[float, float] = (-15, 15),
                  shift: float = 2.0, thickness: tuple[int, int] = (0, 3), blur: tuple[float, float] = (0.0, 0.8),
                  contrast: tuple[float, float] = (0.6, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """Render ``n`` random digits; returns ``x`` (n, size, size) uint8 and ``y`` (n,) int64.

    Each image draws, independently and uniformly: a digit (classes balanced to within
    one), a font from ``fonts`` (file names in matplotlib's font folder), a digit
    ``height`` in pixels (the longer side of the glyph), a ``rotation`` in degrees
    (counter-clockwise), a stroke ``thickness`` (max-filter radius at 48 pt), a Gaussian
    ``blur`` radius in pixels, a ``contrast`` (peak intensity / 255), and a position:
    centre of mass at the centre, moved by up to ``shift`` pixels each way.
    Same arguments and seed -> the same images.
    """
    n = check_int(n, "n", min_val=1)
    size = check_int(size, "size", min_val=8)
    h_lo, h_hi = _range("height", height, 2, size)
    r_lo, r_hi = _range("rotation", rotation, -180, 180)
    t_lo, t_hi = _range("thickness", thickness, 0, 20)
    if t_lo != round(t_lo) or t_hi != round(t_hi):
        raise ValueError(f"thickness must be a pair of whole numbers (max-filter radii), got {thickness!r}.")
    b_lo, b_hi = _range("blur", blur, 0, size / 4)
    c_lo, c_hi = _range("contrast", contrast, 0.01, 1.0)
    if not 0 <= check_number(shift, "shift") <= size / 4:
        raise ValueError(f"shift must be between 0 and size/4 = {size / 4} pixels, got {shift!r}.")
    if seed is not None:
        seed = check_int(seed, "seed", min_val=0)
    paths = [str(p) for p in _font_paths(fonts, "fonts")]
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % 10).astype(np.int64)
    font_idx = rng.integers(0, len(paths), n)
    angles = rng.uniform(r_lo, r_hi, n)
    thick = rng.integers(int(t_lo), int(t_hi) + 1, n)
    heights = rng.uniform(h_lo, h_hi, n)
    blurs = rng.uniform(b_lo, b_hi, n)
    contrasts = rng.uniform(c_lo, c_hi, n)
    shifts = rng.uniform(-float(shift), float(shift), (n, 2))
    x = np.stack([_render_one(int(y[i]), paths[font_idx[i]], float(angles[i]), int(thick[i]), float(heights[i]),
                              float(blurs[i]), float(contrasts[i]), float(shifts[i, 0]), float(shifts[i, 1]),
                              int(size)) for i in range(n)])
    return x, y
