"""svrnn_lite: blind deblurring with a multi-task CNN and a spatially variant RNN.

The package behind the book *svrnn-lite*. Each module holds the code of one chapter:

==========================  ==========================================================
module                      chapter
==========================  ==========================================================
``svrnn_lite.plotting``     shared figure helpers (white backgrounds, image grids)
==========================  ==========================================================
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
