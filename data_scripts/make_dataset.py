"""Write the synthetic training and test data in the GoPro layout.

The same as ``svrnn-lite synth``; run it with ``--help`` for the options::

    .venv/bin/python data_scripts/make_dataset.py data/synthetic --seed 0
"""

import sys

from svrnn_lite.cli import main

if __name__ == "__main__":
    sys.exit(main(["synth", *sys.argv[1:]]))
