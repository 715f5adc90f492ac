"""svrnn_lite: blind deblurring with a multi-task CNN and a spatially variant RNN.

The package behind the book *svrnn-lite*. Each module holds the code of one chapter:

==========================  ==========================================================
module                      chapter
==========================  ==========================================================
``svrnn_lite.plotting``     shared figure helpers (white backgrounds, image grids)
``svrnn_lite.blur``         Blur synthesis by frame averaging (+ synth, sources, data)
``svrnn_lite.recursive``    The first-order recursive filter
``svrnn_lite.spatial_rnn``  The four-direction spatially variant RNN
``svrnn_lite.models``       The multi-task UNet (+ SVRNN baseline, presets, FLOP counter)
``svrnn_lite.train``        Training (+ data, checkpoint, pretrained)
``svrnn_lite.evaluate``     Evaluation (+ metrics, inference, images)
==========================  ==========================================================
"""

from svrnn_lite.blur import average_frames, make_blur_pair
from svrnn_lite.models import MultiTaskSVRNN, build_model
from svrnn_lite.pretrained import load_pretrained
from svrnn_lite.spatial_rnn import SpatialRNN

__version__ = "0.1.0"

__all__ = [
    "MultiTaskSVRNN",
    "SpatialRNN",
    "__version__",
    "average_frames",
    "build_model",
    "load_pretrained",
    "make_blur_pair",
]
