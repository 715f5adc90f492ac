"""What a network is: its architecture, width and options, and the names of the width presets.

Explained in chapter *The multi-task UNet*.

A ``ModelConfig`` is the one description every network is built from (``build_model``) and that
every checkpoint stores next to the weights, as a plain dict (``to_dict``, ``from_dict``). A
*preset* is a name for a width: "paper" (1.0), "half" (0.5) and "lite" (0.25, the book's CPU
default). The config's ``name`` is not a setting of its own but the preset of its width
(``preset_name``), so a name can never disagree with the width it names; the ``--preset`` option
of ``svrnn-lite train`` picks the width by that name.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from svrnn_lite.layers import NEGATIVE_SLOPE

PRESET_WIDTHS = {"paper": 1.0, "half": 0.5, "lite": 0.25}
ARCHS = ("multitask", "baseline", "plain")


def preset_name(width: float) -> str:
    """Name of the preset with this width, or "width=<w>" if none has it.

    Examples
    --------
    >>> preset_name(0.25), preset_name(0.3)
    ('lite', 'width=0.3')
    """
    for name, w in PRESET_WIDTHS.items():
        if math.isclose(w, width):
            return name
    return f"width={width:g}"


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a network; saved inside every checkpoint.

    Attributes
    ----------
    name : str
        The preset of ``width`` ("paper", "half", "lite"), or "width=<w>" for any other width;
        worked out from the width, not passed.
    arch : str
        "multitask" (the paper), "baseline" (SVRNN, Zhang et al. 2018) or "plain" (no RNN).
    width : float
        Multiplier of every channel count of the paper (1.0 = the paper).
    residual : bool
        Add the input image to the output (off in the paper).
    negative_slope : float
        Slope of the LeakyReLUs.

    Raises
    ------
    ValueError
        If the architecture is unknown or a number is out of range.

    Examples
    --------
    >>> config = ModelConfig("multitask", 0.25)
    >>> config.name, config.describe()
    ('lite', "preset 'lite' (arch multitask, width 0.25)")
    >>> ModelConfig.from_preset("half", arch="plain", residual=True).describe()
    "preset 'half' (arch plain, width 0.5, residual)"
    >>> ModelConfig("transformer")
    Traceback (most recent call last):
    ...
    ValueError: arch must be one of ['multitask', 'baseline', 'plain'], got 'transformer'
    """

    name: str = field(init=False)  # first, as in the checkpoints' dicts
    arch: str = "multitask"
    width: float = 1.0
    residual: bool = False
    negative_slope: float = NEGATIVE_SLOPE

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {list(ARCHS)}, got {self.arch!r}")
        if not (_is_number(self.width) and self.width > 0 and math.isfinite(self.width)):
            raise ValueError(f"width must be a positive number, got {self.width!r}")
        if not isinstance(self.residual, bool):
            raise ValueError(f"residual must be True or False, got {self.residual!r}")
        if not (_is_number(self.negative_slope) and math.isfinite(self.negative_slope)):
            raise ValueError(f"negative_slope must be a number, got {self.negative_slope!r}")
        object.__setattr__(self, "name", preset_name(self.width))

    @classmethod
    def from_preset(cls, preset: str = "lite", arch: str = "multitask", **options) -> ModelConfig:
        """The config of preset ``preset``: its width, with ``arch`` and ``options``.

        ``options`` are ``residual`` and ``negative_slope``.

        Raises
        ------
        ValueError
            If ``preset`` is not one of ``PRESET_WIDTHS``.
        """
        if preset not in PRESET_WIDTHS:
            raise ValueError(f"preset must be one of {list(PRESET_WIDTHS)}, got {preset!r}")
        return cls(arch, PRESET_WIDTHS[preset], **options)

    def to_dict(self) -> dict[str, Any]:
        """The config as a checkpoint stores it: name, arch, width, residual, negative_slope.

        Examples
        --------
        >>> ModelConfig("baseline", 0.5).to_dict()
        {'name': 'half', 'arch': 'baseline', 'width': 0.5, 'residual': False, 'negative_slope': 0.1}
        """
        return asdict(self)

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> ModelConfig:
        """The config a checkpoint stored (``to_dict``); its ``name`` is worked out again.

        Raises
        ------
        ValueError
            If ``stored`` has a key ``to_dict`` does not write, or a value out of range.

        Examples
        --------
        >>> ModelConfig.from_dict({"name": "lite", "arch": "plain", "width": 0.25}).arch
        'plain'
        >>> ModelConfig.from_dict({"name": "lite", "depth": 3})
        Traceback (most recent call last):
        ...
        ValueError: unknown model setting(s): depth
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(stored) - known)
        if unknown:
            raise ValueError(f"unknown model setting(s): {', '.join(unknown)}")
        return cls(**{k: v for k, v in stored.items() if k != "name"})

    def describe(self) -> str:
        """One line naming the preset, e.g. "preset 'lite' (arch multitask, width 0.25)"."""
        extras = ", residual" if self.residual else ""
        if self.negative_slope != NEGATIVE_SLOPE:
            extras += f", LeakyReLU slope {self.negative_slope:g}"
        return f"preset {self.name!r} (arch {self.arch}, width {self.width:g}{extras})"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
