"""svrnn_lite: blind deblurring with a multi-task CNN and a spatially variant RNN.

The package behind the book *svrnn-lite*. Each module holds the code of one chapter:

==========================  ==========================================================
module                      chapter
==========================  ==========================================================
``svrnn_lite.plotting``     shared figure helpers (white backgrounds, image grids)
``svrnn_lite.blur``         Blur synthesis by frame averaging (+ synth, sources, data)
==========================  ==========================================================
"""

from svrnn_lite.blur import average_frames, make_blur_pair

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "average_frames",
    "make_blur_pair",
]
