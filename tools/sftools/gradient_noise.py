"""``tools/gradient_noise.py``: does a bigger batch at a coarser shape buy progress?

Multigrid trains its coarse shapes at k times the batch and, by the linear scaling rule, k times
the learning rate: one such step is meant to do the work of k default steps. That holds while the
batch stays under the *gradient noise scale* B_noise = tr(Sigma) / |G|^2 (McCandlish et al., "An
Empirical Model of Large-Batch Training", 2018): a step with B clips makes about
B / (B + B_noise) of the progress of a noiseless one, so batches past B_noise buy little. For
weights (a checkpoint, or the initial ones) and each clip shape ``BxTxS`` this measures, from K
batches of the training set in training mode:

* the mean loss, |G|^2 (unbiased) and tr(Sigma) of a B-clip gradient, and B_noise in clips;
* the cosine between each shape's mean gradient and the first shape's, corrected for the
  sampling noise of the two means (coarse clips that point elsewhere would teach the wrong thing);
* with ``--sharpness``, the largest Hessian eigenvalue on one batch (power iteration on
  finite-difference Hessian-vector products, dropout off, BN statistics frozen): on a quadratic,
  SGD with momentum m is stable only while LR x lambda_max < 2 (1 + m), or 2 (1 + m) / (1 + 2 m)
  with Nesterov's momentum (SOLVER.NESTEROV, PySlowFast's default), so it bounds the learning rate
  that a shape can take.
"""

from __future__ import annotations

import argparse
import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from fvcore.common.config import CfgNode

from slowfast.checkpoint.compat import load_checkpoint
from slowfast.config import assert_and_infer_cfg, build_cfg
from slowfast.datasets.loader import construct_loader
from slowfast.models import build_model


def stability_bound(momentum: float, nesterov: bool) -> float:
    """The largest LR x curvature at which SGD (PyTorch's form) is stable on a quadratic."""
    return 2 * (1 + momentum) / (1 + 2 * momentum) if nesterov else 2 * (1 + momentum)


@dataclass
class ShapeNoise:
    """What one clip shape measured."""

    shape: tuple[int, int, int]  # clips, frames, crop
    loss: float
    grad_sq: float  # |G|^2, unbiased (may come out <= 0 when noise swamps the signal)
    trace: float  # tr(Sigma) of a gradient over `clips` clips
    mean: torch.Tensor  # the mean gradient over the K batches
    batches: int
    cosine: float | None = None  # with the first shape's mean gradient, noise-corrected
    sharpness: float | None = None

    @property
    def noise_scale(self) -> float:
        """B_noise in clips (inf where |G|^2 is not resolved above the noise)."""
        return self.shape[0] * self.trace / self.grad_sq if self.grad_sq > 0 else math.inf

    @property
    def step_worth(self) -> float:
        """The share of a noiseless step's progress that one step at this batch makes."""
        b = self.shape[0]
        return b / (b + self.noise_scale) if math.isfinite(self.noise_scale) else 0.0


def parse_shape(text: str) -> tuple[int, int, int]:
    """ "BxTxS" (clips x frames x crop) as three positive ints."""
    parts = text.lower().split("x")
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"a shape is CLIPSxFRAMESxCROP, like 32x4x45: {text!r}")
    b, t, s = (int(p) for p in parts)
    return b, t, s


def shape_cfg(cfg: CfgNode, shape: tuple[int, int, int]) -> CfgNode:
    """``cfg`` drawing training clips of ``shape`` as multigrid's phases do: the short-side
    jitter's lower end follows the crop, and clips with fewer frames than DATA.NUM_FRAMES draw
    their sampling rate up to that many times DATA.SAMPLING_RATE."""
    b, t, s = shape
    out = cfg.clone()
    out.defrost()
    low, high = cfg.DATA.TRAIN_JITTER_SCALES
    out.TRAIN.BATCH_SIZE, out.DATA.NUM_FRAMES, out.DATA.TRAIN_CROP_SIZE = b, t, s
    out.DATA.TRAIN_JITTER_SCALES = [int(round(low * s / cfg.DATA.TRAIN_CROP_SIZE)), int(high)]
    if t < cfg.DATA.NUM_FRAMES:
        rate = cfg.DATA.SAMPLING_RATE
        out.MULTIGRID.LONG_CYCLE_SAMPLING_RATE = rate * (cfg.DATA.NUM_FRAMES // t)
    out.freeze()
    return out


def _flat_grad(params: Sequence[torch.nn.Parameter]) -> torch.Tensor:
    return torch.cat([p.grad.reshape(-1) for p in params]).double()


def noise_stats(grads: Iterable[torch.Tensor]) -> tuple[torch.Tensor, float, float, int]:
    """(mean, |G|^2, tr(Sigma), K) from K independent batch gradients: tr(Sigma) is the unbiased
    variance of one batch gradient summed over coordinates, |G|^2 = |mean|^2 - tr(Sigma) / K."""
    total, sq, k = None, 0.0, 0
    for g in grads:
        g = g.double()
        total = g if total is None else total + g
        sq += float(g @ g)
        k += 1
    if k < 2:
        raise ValueError(f"the noise scale needs at least 2 batch gradients, got {k}")
    mean = total / k
    trace = (sq - k * float(mean @ mean)) / (k - 1)
    return mean, float(mean @ mean) - trace / k, trace, k


def measure_shape(
    model: torch.nn.Module, cfg: CfgNode, shape: tuple[int, int, int], batches: int
) -> ShapeNoise:
    """B_noise of ``model`` at ``shape`` from ``batches`` training batches (training mode)."""
    params = [p for p in model.parameters() if p.requires_grad]
    loader = construct_loader(shape_cfg(cfg, shape), "train")
    losses: list[float] = []
    model.train()

    def grads() -> Iterator[torch.Tensor]:
        for inputs, labels, _, _ in itertools.islice(itertools.cycle(loader), batches):
            model.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(inputs), labels)
            loss.backward()
            losses.append(float(loss.detach()))
            yield _flat_grad(params)

    mean, grad_sq, trace, k = noise_stats(grads())
    return ShapeNoise(shape, sum(losses) / k, grad_sq, trace, mean, k)


def power_iteration(
    hvp: Callable[[torch.Tensor], torch.Tensor], dim: int, iters: int, seed: int = 0
) -> float:
    """The eigenvalue of largest magnitude of the symmetric operator ``hvp`` on R^dim."""
    v = torch.randn(dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    v /= v.norm()
    value = 0.0
    for _ in range(iters):
        hv = hvp(v)
        value = float(hv @ v)
        v = hv / hv.norm()
    return value


def top_eigenvalue(
    hvp: Callable[[torch.Tensor], torch.Tensor], dim: int, iters: int, seed: int = 0
) -> float:
    """The largest (most positive) eigenvalue: power iteration finds the one of largest
    magnitude; when that is negative (a loss surface is not convex), a second one on the shifted
    operator H - that value finds the top of the spectrum."""
    first = power_iteration(hvp, dim, iters, seed)
    if first >= 0:
        return first
    return first + power_iteration(lambda v: hvp(v) - first * v, dim, iters, seed + 1)


def sharpness(
    model: torch.nn.Module, cfg: CfgNode, shape: tuple[int, int, int], iters: int = 30
) -> float:
    """The largest Hessian eigenvalue of the loss on one batch at ``shape`` (power iteration,
    central finite differences). Dropout is off and BN keeps its statistics for the duration, so
    that the loss is one fixed function of the weights; the weights are restored afterwards."""
    params = [p for p in model.parameters() if p.requires_grad]
    inputs, labels, _, _ = next(iter(construct_loader(shape_cfg(cfg, shape), "train")))
    saved = [p.detach().clone() for p in params]
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    dropouts = [m for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    model.train()
    for m in norms:
        m.momentum = 0.0
    for m in dropouts:
        m.eval()

    def grad_at(v: torch.Tensor, eps: float) -> torch.Tensor:
        with torch.no_grad():
            i = 0
            for p, w in zip(params, saved):
                p.copy_(w + eps * v[i : i + p.numel()].view_as(p).to(p.dtype))
                i += p.numel()
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(inputs), labels).backward()
        return _flat_grad(params)

    eps = 1e-2
    try:
        return top_eigenvalue(
            lambda v: (grad_at(v, eps) - grad_at(v, -eps)) / (2 * eps),
            sum(p.numel() for p in params),
            iters,
        )
    finally:
        with torch.no_grad():
            for p, w in zip(params, saved):
                p.copy_(w)
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        for m in dropouts:
            m.train()


def corrected_cosine(a: ShapeNoise, b: ShapeNoise) -> float | None:
    """cos(G_a, G_b): the two means are independent, so their dot product estimates G_a . G_b
    without bias, and each |G|^2 is the unbiased one; None where a mean is more noise than signal
    (|G|^2 below the noise tr(Sigma) / K of a mean of K batch gradients: raise the batches)."""
    if any(r.grad_sq <= 0 or r.grad_sq < r.trace / r.batches for r in (a, b)):
        return None
    return float(a.mean @ b.mean) / math.sqrt(a.grad_sq * b.grad_sq)


def measure(
    cfg: CfgNode,
    shapes: Sequence[tuple[int, int, int]],
    batches: int,
    weights: str | None = None,
    with_sharpness: bool = False,
) -> list[ShapeNoise]:
    """Every shape's measurements for the model of ``cfg`` with ``weights`` (None: initial)."""
    torch.manual_seed(cfg.RNG_SEED)
    model = build_model(cfg)
    if weights:
        load_checkpoint(weights, model)
    out = []
    for shape in shapes:
        result = measure_shape(model, cfg, shape, batches)
        if out:
            result.cosine = corrected_cosine(out[0], result)
        if with_sharpness:
            result.sharpness = sharpness(model, cfg, shape)
        out.append(result)
    return out


def format_table(results: Sequence[ShapeNoise], bound: float) -> str:
    """One line per shape; ``bound`` is the largest stable LR x lambda_max, so the last column is
    the largest LR that the shape's curvature allows (compare it with the LR the schedule gives
    the shape's iterations: ``tools/multigrid_schedule.py``)."""
    head = "shape (BxTxS)   loss    |G|^2      tr(Sigma)  B_noise  step worth  cos(first)"
    head += f"  lambda_max  stable LR < (LR x lambda_max < {bound:.2f})"
    lines = [head]
    for r in results:
        b, t, s = r.shape
        cos = "-" if r.cosine is None else f"{r.cosine:.2f}"
        noise = "unresolved" if not math.isfinite(r.noise_scale) else f"{r.noise_scale:.0f}"
        line = (
            f"{b}x{t}x{s:<11} {r.loss:6.3f}  {r.grad_sq:9.3e}  {r.trace:9.3e}  {noise:>7}"
            f"  {r.step_worth:10.2f}  {cos:>10}"
        )
        if r.sharpness is not None:
            limit = f"{bound / r.sharpness:.3g}" if r.sharpness > 0 else "any"
            line += f"  {r.sharpness:10.2f}  {limit}"
        lines.append(line)
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cfg", required=True, help="training config (YAML)")
    parser.add_argument("--weights", help="checkpoint to measure (default: the initial weights)")
    parser.add_argument(
        "--shape",
        type=parse_shape,
        action="append",
        required=True,
        help="CLIPSxFRAMESxCROP; repeat for several (cosines are against the first)",
    )
    parser.add_argument("--batches", type=int, default=32, help="batches per shape (K >= 2)")
    parser.add_argument("--sharpness", action="store_true", help="also the top Hessian eigenvalue")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    args = parser.parse_args(argv)
    if args.batches < 2:
        parser.error(f"--batches needs at least 2 batches, got {args.batches}")
    cfg = assert_and_infer_cfg(build_cfg([args.cfg], args.opts))
    results = measure(cfg, args.shape, args.batches, args.weights, args.sharpness)
    print(
        format_table(results, stability_bound(cfg.SOLVER.MOMENTUM, cfg.SOLVER.NESTEROV)),
        flush=True,
    )
    return 0
