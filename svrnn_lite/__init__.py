"""svrnn_lite: blind deblurring with a multi-task CNN and a spatially variant RNN.

The package behind the book *svrnn-lite*. Each module holds the code of one chapter:

==========================  ======================================================================
module                      chapter
==========================  ======================================================================
``svrnn_lite.plotting``     shared figure helpers (white backgrounds, image grids)
``svrnn_lite.blur``         Blur synthesis by frame averaging (+ motion, render, synth,
                            synth_config, sources, dead_leaves, frames, layout)
``svrnn_lite.recursive``    The first-order recursive filter (+ linear_blur)
``svrnn_lite.spatial_rnn``  The four-direction spatially variant RNN
``svrnn_lite.handbuilt``    Chapters 2-3: hand-set gates that undo a known camera pan
``svrnn_lite.models``       The multi-task UNet (+ layers, model_config, cost)
``svrnn_lite.train``        Training (+ train_config, data, checkpoint, pretrained)
``svrnn_lite.evaluate``     Evaluation (+ metrics, inference, images, gates)
``svrnn_lite.cli``          the ``svrnn-lite`` command line
==========================  ======================================================================
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: The names ``from svrnn_lite import ...`` offers, and the module each lives in. They are
#: imported on first use (PEP 562), so ``import svrnn_lite`` (and ``svrnn-lite --help``) does not
#: load torch, numba and scikit-image, and changes no library setting, until a name is used.
_LAZY = {
    "MultiTaskSVRNN": "svrnn_lite.models",
    "SpatialRNN": "svrnn_lite.spatial_rnn",
    "average_frames": "svrnn_lite.blur",
    "build_model": "svrnn_lite.models",
    "load_pretrained": "svrnn_lite.pretrained",
    "make_blur_pair": "svrnn_lite.blur",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # the next access skips this function
        return value
    raise AttributeError(f"module 'svrnn_lite' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
