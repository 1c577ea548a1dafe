"""The `rectangles` and `convex` shape tasks of Larochelle et al. (2007), "An empirical
evaluation of deep architectures on problems with many factors of variation", as used in
Philipp & Carbonell (2017), "Nonparametric neural networks", sec. 4.1.

The original files are not bundled, so both are regenerated here, 28x28, from the recipes
in Larochelle et al. sec. 4: white shapes (1.0) on black (0.0).
"""

from __future__ import annotations

import numpy as np

from explorer.data.dataset import Dataset, build_dataset
from explorer.data.errors import DataError

SIZE = 28
RECTANGLES_DESCRIPTION = (
    "Rectangle outlines, 28x28: is it taller than wide? 2 classes (Larochelle et al. 2007)"
)
CONVEX_DESCRIPTION = (
    "White regions, 28x28: is the region convex? 2 classes (Larochelle et al. 2007)"
)


def rectangle_images(
    n: int, rng: np.random.Generator, min_side: int = 3, min_gap: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """n outlines (1-pixel border) of axis-aligned rectangles, label 1 if taller than wide.

    As in the original, height and width are uniform and near-squares (|h - w| < min_gap)
    are rejected, so no label hangs on a single pixel; the position is uniform among those
    that keep the whole rectangle inside the image.
    """
    h = rng.integers(min_side, SIZE + 1, n)
    w = rng.integers(min_side, SIZE + 1, n)
    redo = np.abs(h - w) < min_gap
    while redo.any():  # rejection sampling keeps (h, w) uniform on the allowed set
        h[redo] = rng.integers(min_side, SIZE + 1, redo.sum())
        w[redo] = rng.integers(min_side, SIZE + 1, redo.sum())
        redo = np.abs(h - w) < min_gap
    top = rng.integers(0, SIZE - h + 1)
    left = rng.integers(0, SIZE - w + 1)
    r = np.arange(SIZE)
    rows_in = (r >= top[:, None]) & (r < (top + h)[:, None])
    cols_in = (r >= left[:, None]) & (r < (left + w)[:, None])
    rows_edge = (r == top[:, None]) | (r == (top + h - 1)[:, None])
    cols_edge = (r == left[:, None]) | (r == (left + w - 1)[:, None])
    inside = rows_in[:, :, None] & cols_in[:, None, :]
    outline = inside & (rows_edge[:, :, None] | cols_edge[:, None, :])
    return outline, (h > w).astype(np.int64)


# Pixel centres as (row, col) coordinates, shape (784, 2).
_PIXELS = np.stack(np.divmod(np.arange(SIZE * SIZE), SIZE), axis=1).astype(np.float32)


def half_plane_regions(
    m: int, rng: np.random.Generator, reach: tuple[float, float], max_planes: int = 10
) -> np.ndarray:
    """m convex regions, each the intersection of random half-planes, as (m, 28, 28) bools.

    Every half-plane keeps a random anchor point at distance >= reach[0], so the region
    always holds a disc around the anchor (never empty, never a sliver). The number of
    half-planes is 3 + Geometric(0.195) (Larochelle et al. draw it geometrically), capped.
    The pixel centres inside a convex set form a digitally convex set.
    """
    anchor = rng.uniform(4, SIZE - 5, (m, 1, 2)).astype(np.float32)
    k = np.minimum(2 + rng.geometric(0.195, m), max_planes)
    theta = rng.uniform(0, 2 * np.pi, (m, max_planes))
    normal = np.stack([np.cos(theta), np.sin(theta)], axis=-1).astype(np.float32)
    dist = rng.uniform(*reach, (m, max_planes)).astype(np.float32)
    dist[np.arange(max_planes) >= k[:, None]] = np.inf  # unused planes keep everything
    # (p - anchor) . normal <= dist, rearranged as p . normal <= dist + anchor . normal;
    # one plane at a time, as (m, 784) arrays: einsum or a reduction over a short last axis
    # is several times slower.
    limit = dist + (anchor * normal).sum(axis=-1)
    region = np.ones((m, SIZE * SIZE), dtype=bool)
    for j in range(max_planes):
        row_part = _PIXELS[None, :, 0] * normal[:, None, j, 0]
        col_part = _PIXELS[None, :, 1] * normal[:, None, j, 1]
        region &= row_part + col_part <= limit[:, None, j]
    return region.reshape(m, SIZE, SIZE)


def _gap_along_rows(b: np.ndarray) -> np.ndarray:
    """True where some row has a background pixel between two region pixels."""
    before = np.logical_or.accumulate(b, axis=2)
    after = np.logical_or.accumulate(b[:, :, ::-1], axis=2)[:, :, ::-1]
    return np.asarray((~b & before & after).any(axis=(1, 2)))


def _skew(b: np.ndarray) -> np.ndarray:
    """Shift row i right by i, so anti-diagonals become columns (padding is background,
    and only ever pads line ends, never the middle of a line)."""
    m, H, W = b.shape
    out = np.zeros((m, H, W + H - 1), dtype=bool)
    for i in range(H):
        out[:, i, i : i + W] = b[:, i]
    return out


def certified_nonconvex(b: np.ndarray) -> np.ndarray:
    """(m,) bools: True where a lattice segment (row, column or diagonal) between two region
    pixels passes a background pixel. That proves the region is not the set of pixels of any
    convex shape; False means no such proof along these four directions."""
    t = b.transpose(0, 2, 1)
    return (
        _gap_along_rows(b)
        | _gap_along_rows(t)
        | _gap_along_rows(_skew(b).transpose(0, 2, 1))
        | _gap_along_rows(_skew(b[:, :, ::-1]).transpose(0, 2, 1))
    )


# Distance ranges of the half-planes from their anchor, in pixels: the union's parts are
# smaller so that the two classes have similar areas (mean about 245 pixels each) and area alone
# does not give the label away.
CONVEX_REACH = (2.0, 14.0)
PART_REACH = (2.0, 4.5)


def convex_images(
    n: int, rng: np.random.Generator, min_area: int = 19
) -> tuple[np.ndarray, np.ndarray]:
    """n regions, half convex (label 1) and half non-convex (label 0), shuffled.

    Convex: one intersection of half-planes. Non-convex: the union of 2-4 smaller such
    regions, kept only if `certified_nonconvex` proves it (others are redrawn), as the
    original rejected unions that happened to be convex. Regions under `min_area` pixels
    are redrawn in both classes (Larochelle et al. used 19).
    """
    n_convex = n // 2
    convex, nonconvex = [], []
    have_c = have_n = 0
    while have_c < n_convex or have_n < n - n_convex:
        # a batch sized to what is missing, plus a margin for rejections; capped for memory
        m = int(min(2048, 16 + 1.2 * max(n_convex - have_c, n - n_convex - have_n)))
        if have_c < n_convex:
            b = half_plane_regions(m, rng, reach=CONVEX_REACH)
            b = b[b.sum(axis=(1, 2)) >= min_area]
            convex.append(b)
            have_c += len(b)
        if have_n < n - n_convex:
            parts = half_plane_regions(4 * m, rng, reach=PART_REACH).reshape(m, 4, SIZE, SIZE)
            used = np.arange(4) < rng.integers(2, 5, m)[:, None]
            b = np.asarray((parts & used[:, :, None, None]).any(axis=1))
            b = b[(b.sum(axis=(1, 2)) >= min_area) & certified_nonconvex(b)]
            nonconvex.append(b)
            have_n += len(b)
    images = np.concatenate(
        [np.concatenate(convex)[:n_convex], np.concatenate(nonconvex)[: n - n_convex]]
    )
    labels = np.repeat(np.array([1, 0], dtype=np.int64), [n_convex, n - n_convex])
    order = rng.permutation(n)
    return images[order], labels[order]


def _check_n(name: str, n: int) -> None:
    if not isinstance(n, int | np.integer) or n < 20:
        raise DataError(f"data set '{name}': n={n!r}; accepted: an integer >= 20")


def _load_images(
    name: str,
    description: str,
    make_images,
    stream: int,
    seed: int,
    n: int,
    val_fraction: float,
    test_fraction: float,
) -> Dataset:
    _check_n(name, n)
    images, y = make_images(int(n), np.random.default_rng([seed, 28, stream]))
    X = images.reshape(len(images), -1).astype(np.float32)
    return build_dataset(
        name, description, X, y, seed, val_fraction, test_fraction, image_shape=(1, SIZE, SIZE)
    )


def load_rectangles(seed: int, n: int, val_fraction: float, test_fraction: float) -> Dataset:
    return _load_images(
        "rectangles",
        RECTANGLES_DESCRIPTION,
        rectangle_images,
        1,
        seed,
        n,
        val_fraction,
        test_fraction,
    )


def load_convex(seed: int, n: int, val_fraction: float, test_fraction: float) -> Dataset:
    return _load_images(
        "convex", CONVEX_DESCRIPTION, convex_images, 2, seed, n, val_fraction, test_fraction
    )
