"""The campaign's yardstick: does a generic small UNet learn faster than our network?

If a generic residual UNet of the lite model's size, trained from scratch with the campaign's
recipe for as long as the lite multi-task network from scratch, gains more on real blur, the gap
is in our network (initialisation, gates, widths) or in how the recipe suits it, and the
campaign should fix that first; if it gains about as much, data and budget are what hold the
campaign back (chapter *Training*).

Both arms run the one loop :func:`train_arm`, on the campaign's data (``train_reference.py``
makes it under ``--work``), with the recipe's crops, batch, loss, learning-rate schedule and
moving average of the weights, from the same seed, for the same time on two cores: the time of
one step of each is measured side by side first (``run_ablation.side_by_side``) and each makes
the steps that fill ``--minutes`` (``recipe_probe.plan_steps``). Each is then scored like the
shipped model (``recipe_probe.scores``: the real pairs of ``benchmarks/real_blur_check.py`` and
the photo test split), and the scores go to ``book/chapters/data/yardstick.json``::

    .venv/bin/python data_scripts/yardstick.py --minutes 25     # about an hour

One run of each, one seed: a gap under about 0.05 dB on the held-out block is noise.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import recipe_probe  # noqa: E402
import train_reference as campaign  # noqa: E402

from svrnn_lite.atomic import atomic_path  # noqa: E402
from svrnn_lite.cost import count_parameters  # noqa: E402
from svrnn_lite.data import random_crop_batch  # noqa: E402
from svrnn_lite.layers import cat, down, fast_layout, pad_to_multiple, up  # noqa: E402
from svrnn_lite.models import build_model  # noqa: E402
from svrnn_lite.train import training_loss, training_pairs, update_average, validate  # noqa: E402
from svrnn_lite.train_config import TrainConfig, learning_rate  # noqa: E402

RESULTS = campaign.ROOT / "book" / "chapters" / "data" / "yardstick.json"


def conv_relu(c_in: int, c_out: int) -> nn.Sequential:
    """Two 3x3 convs with ReLUs: one level of the generic UNet."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1),
        nn.ReLU(inplace=True),
    )


class GenericUNet(nn.Module):
    """A textbook residual UNet: three levels of ``width``, ``2 width`` and ``4 width`` channels
    (two 3x3 conv + ReLU each), 2x2 max-pooling down, bilinear up and concatenation, a 3x3 conv
    to the image, plus the input image. Its last conv starts at zero, so the network starts as
    the identity, like ours with its global residual.

    >>> GenericUNet(8)(torch.rand(1, 3, 13, 21)).shape
    torch.Size([1, 3, 13, 21])
    """

    def __init__(self, width: int = 35) -> None:
        super().__init__()
        w = width
        self.enc1, self.enc2, self.mid = (
            conv_relu(3, w),
            conv_relu(w, 2 * w),
            conv_relu(2 * w, 4 * w),
        )
        self.dec2, self.dec1 = conv_relu(6 * w, 2 * w), conv_relu(3 * w, w)
        self.out = nn.Conv2d(w, 3, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = fast_layout(pad_to_multiple(image, 4))
        e1 = self.enc1(x)
        e2 = self.enc2(down(e1))
        mid = self.mid(down(e2))
        d2 = self.dec2(cat(up(mid), e2))
        d1 = self.dec1(cat(up(d2), e1))
        return self.out(d1)[..., : image.shape[-2], : image.shape[-1]].contiguous() + image


def matched_width(target: int) -> int:
    """The width of the generic UNet whose parameter count is closest to ``target``.

    >>> matched_width(count_parameters(GenericUNet(20)))
    20
    """
    return min(range(4, 129), key=lambda w: abs(count_parameters(GenericUNet(w)) - target))


def arms(seed: int) -> dict[str, nn.Module]:
    """The two networks, from scratch: ours (the lite multi-task net) and the generic UNet of
    the same parameter count."""
    torch.manual_seed(seed)
    ours = build_model("lite", residual=True)
    torch.manual_seed(seed)
    return {"lite": ours, "generic": GenericUNet(matched_width(count_parameters(ours)))}


def train_arm(model: nn.Module, cfg: TrainConfig, train_set, val_set, log=print):
    """Train ``model`` for ``cfg.steps`` steps of the recipe; return the moving average of its
    weights and the validation curve ``[(step, PSNR)]`` on ``val_set``."""
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    average, curve = copy.deepcopy(model).eval(), []
    model.train()
    for step in range(cfg.steps):
        rng = np.random.default_rng([cfg.seed, step])  # the same batches for every arm
        blurred, sharp = random_crop_batch(train_set, rng, cfg.batch_size, cfg.crop)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(cfg, step)
        loss = training_loss(model(blurred) - sharp, cfg.loss)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        update_average(average, model, cfg.ema, step)
        if (step + 1) % cfg.val_every == 0 or step + 1 == cfg.steps:
            curve.append((step + 1, validate(average, val_set)))
            log(f"  step {step + 1}/{cfg.steps}: validation PSNR {curve[-1][1]:.2f} dB")
    return average.eval(), curve


def step_seconds(models: dict[str, nn.Module], cfg: TrainConfig, train_set, rounds=4) -> dict:
    """Median time of one training step of each network, measured side by side."""
    from run_ablation import side_by_side

    trial = {name: copy.deepcopy(m).train() for name, m in models.items()}
    optimizers = {name: torch.optim.Adam(m.parameters(), lr=1e-9) for name, m in trial.items()}
    blurred, sharp = random_crop_batch(
        train_set, np.random.default_rng(0), cfg.batch_size, cfg.crop
    )

    def step(name: str) -> float:
        started = time.perf_counter()
        loss = training_loss(trial[name](blurred) - sharp, cfg.loss)
        optimizers[name].zero_grad()
        loss.backward()
        optimizers[name].step()
        return time.perf_counter() - started

    return side_by_side(step, list(trial), rounds)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=25.0, help="training time of each arm")
    parser.add_argument("--work", type=Path, default=campaign.WORK, help="the campaign's data")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the scores go")
    args = parser.parse_args(argv)
    if args.minutes <= 0:
        parser.error(f"--minutes must be positive, got {args.minutes}")
    torch.set_num_threads(2)
    data = campaign.make_data(args.work.resolve())
    recipe = replace(campaign.RECIPE, data=[str(d) for d in data], seed=args.seed)
    train_set, val_set = training_pairs(recipe)
    models = arms(args.seed)
    seconds = step_seconds(models, recipe, train_set)
    steps = recipe_probe.plan_steps(seconds, args.minutes)
    results = {}
    for name, model in models.items():
        cfg = replace(recipe, steps=steps[name], val_every=max(1, steps[name] // 8))
        print(f"== {name}: {count_parameters(model)} parameters, {cfg.steps} steps", flush=True)
        average, curve = train_arm(model, cfg, train_set, val_set)
        results[name] = {
            "parameters": count_parameters(model),
            "step_seconds": seconds[name],
            "steps": cfg.steps,
            "curve": curve,
            "scores": recipe_probe.scores(average, data),
        }
    record = {
        "description": "a generic residual UNet of the lite model's size against the lite "
        "multi-task network, both from scratch, the campaign's recipe, the same training time; "
        "mean PSNR gain over the blurry inputs (GoPro convention)",
        "minutes": args.minutes,
        "recipe": {k: v for k, v in asdict(recipe).items() if k not in ("data", "out", "init")},
        "arms": results,
    }
    with atomic_path(args.results) as tmp:
        tmp.write_text(json.dumps(record, indent=1) + "\n")
    for name, result in results.items():
        gains = ", ".join(f"{k} {v['gain']:+.2f}" for k, v in result["scores"].items())
        print(f"{name}: {gains} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
