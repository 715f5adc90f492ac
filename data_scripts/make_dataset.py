"""Write the synthetic training and test data in the GoPro layout.

A thin wrapper around :func:`svrnn_lite.synth.main`; run it with ``--help`` for the options::

    .venv/bin/python data_scripts/make_dataset.py data/synthetic --seed 0
"""

import sys

from svrnn_lite.synth import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
