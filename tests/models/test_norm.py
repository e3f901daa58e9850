"""BN variants: sub-BN, sync-BN (2 gloo processes) and in-place conversion between them."""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn

from slowfast.models import build_model
from slowfast.models.norm import SubBatchNorm3d, aggregate_sub_bn_stats, convert_norm, get_norm
from slowfast.models.sync_bn import SyncBatchNorm3d  # the module under test, by its own path

from .tiny import clip_inputs, tiny_cfg


def _randomise_affine(module: nn.Module) -> None:
    with torch.no_grad():
        module.weight.uniform_(0.5, 2.0)
        module.bias.uniform_(-1.0, 1.0)


def test_sub_bn_training_equals_plain_bn_per_split():
    torch.manual_seed(0)
    splits, c = 3, 4
    sub = SubBatchNorm3d(c, splits, eps=1e-3, momentum=0.2)
    _randomise_affine(sub)
    x = torch.randn(6, c, 2, 3, 3) * 3 + 1
    out = sub(x)
    for s in range(splits):  # the batch is viewed as (N / splits, C * splits): clip i -> i % splits
        ref = nn.BatchNorm3d(c, eps=1e-3, momentum=0.2)
        ref.load_state_dict({"weight": sub.weight, "bias": sub.bias}, strict=False)
        torch.testing.assert_close(out[s::splits], ref(x[s::splits]))
        torch.testing.assert_close(sub.split_bn.running_mean.view(splits, c)[s], ref.running_mean)
        torch.testing.assert_close(sub.split_bn.running_var.view(splits, c)[s], ref.running_var)


def test_sub_bn_rejects_a_batch_it_cannot_split():
    sub = SubBatchNorm3d(2, 4)
    try:
        sub(torch.randn(6, 2, 1, 2, 2))
    except ValueError as err:
        assert "6 clips" in str(err) and "NUM_SPLITS=4" in str(err)
    else:
        raise AssertionError("no error for 6 clips in 4 splits")


def test_aggregated_sub_bn_stats_are_those_of_the_union_of_the_splits():
    torch.manual_seed(0)
    sub = SubBatchNorm3d(3, 2)
    with torch.no_grad():
        sub.split_bn.running_mean.copy_(torch.tensor([0.0, 1.0, 2.0, 2.0, 3.0, 6.0]))
        sub.split_bn.running_var.copy_(torch.tensor([1.0, 1.0, 1.0, 3.0, 5.0, 1.0]))
    assert aggregate_sub_bn_stats(nn.Sequential(sub)) == 1
    torch.testing.assert_close(sub.bn.running_mean, torch.tensor([1.0, 2.0, 4.0]))
    # average variance + variance of the split means (equal splits)
    torch.testing.assert_close(sub.bn.running_var, torch.tensor([2.0 + 1.0, 3.0 + 1.0, 1.0 + 4.0]))


def test_sub_bn_eval_uses_the_aggregate_refreshed_on_eval():
    torch.manual_seed(0)
    sub = SubBatchNorm3d(2, 2, momentum=1.0)
    _randomise_affine(sub)
    x = torch.randn(4, 2, 2, 2, 2)
    sub(x)
    sub.eval()  # train -> eval aggregates automatically
    plain = nn.BatchNorm3d(2, momentum=1.0)
    plain.load_state_dict(
        {"weight": sub.weight, "bias": sub.bias, "running_mean": sub.bn.running_mean,
         "running_var": sub.bn.running_var}, strict=False)  # fmt: skip
    plain.eval()
    halves = [x[0::2], x[1::2]]
    torch.testing.assert_close(
        sub.bn.running_mean, torch.stack([h.mean((0, 2, 3, 4)) for h in halves]).mean(0)
    )
    y = torch.randn(3, 2, 2, 2, 2)
    torch.testing.assert_close(sub(y), plain(y))


def _sync_bn_worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    torch.manual_seed(0)
    x = torch.randn(4, 3, 2, 3, 3) * 2 + 1  # the global batch, identical on every rank
    g = torch.randn(4, 3, 2, 3, 3)
    results = {}
    for sync in (2, 1):
        bn = SyncBatchNorm3d(3, num_sync_devices=sync, eps=1e-4, momentum=0.3)
        with torch.no_grad():
            bn.weight.copy_(torch.tensor([1.0, 2.0, 0.5]))
            bn.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
        local = x[rank * 2 : rank * 2 + 2].clone().requires_grad_()
        out = bn(local)
        (out * g[rank * 2 : rank * 2 + 2]).sum().backward()
        grads = torch.stack([bn.weight.grad, bn.bias.grad])
        dist.all_reduce(grads)  # what DDP's gradient sum sees
        results[sync] = {
            "out": out.detach(), "x_grad": local.grad, "param_grads": grads,
            "running_mean": bn.running_mean.clone(), "running_var": bn.running_var.clone(),
        }  # fmt: skip
    torch.save(results, f"{out_dir}/rank{rank}.pt")
    dist.destroy_process_group()


def test_sync_bn_on_two_gloo_processes_equals_bn_over_the_whole_batch(tmp_path):
    mp.spawn(_sync_bn_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    torch.manual_seed(0)
    x = torch.randn(4, 3, 2, 3, 3) * 2 + 1
    g = torch.randn(4, 3, 2, 3, 3)

    def reference(chunks):
        outs, x_grads, p_grads, stats = [], [], 0, []
        for chunk in chunks:
            bn = nn.BatchNorm3d(3, eps=1e-4, momentum=0.3)
            with torch.no_grad():
                bn.weight.copy_(torch.tensor([1.0, 2.0, 0.5]))
                bn.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
            xc = x[chunk].clone().requires_grad_()
            out = bn(xc)
            (out * g[chunk]).sum().backward()
            outs.append(out.detach()), x_grads.append(xc.grad)
            p_grads = p_grads + torch.stack([bn.weight.grad, bn.bias.grad])
            stats.append((bn.running_mean, bn.running_var))
        return torch.cat(outs), torch.cat(x_grads), p_grads, stats

    # Synchronised over both processes: plain BN over the concatenated batch of 4.
    out, x_grad, p_grad, stats = reference([slice(0, 4)])
    synced = ranks[0][2], ranks[1][2]
    torch.testing.assert_close(torch.cat([r["out"] for r in synced]), out)
    torch.testing.assert_close(torch.cat([r["x_grad"] for r in synced]), x_grad)
    for r in synced:
        torch.testing.assert_close(r["param_grads"], p_grad)
        torch.testing.assert_close(r["running_mean"], stats[0][0])
        torch.testing.assert_close(r["running_var"], stats[0][1])
    # NUM_SYNC_DEVICES 1: each process normalises its own 2 clips.
    out, x_grad, p_grad, stats = reference([slice(0, 2), slice(2, 4)])
    local = ranks[0][1], ranks[1][1]
    torch.testing.assert_close(torch.cat([r["out"] for r in local]), out)
    torch.testing.assert_close(torch.cat([r["x_grad"] for r in local]), x_grad)
    torch.testing.assert_close(local[1]["running_mean"], stats[1][0])


def test_sync_bn_without_a_process_group_is_plain_bn():
    torch.manual_seed(0)
    sync = SyncBatchNorm3d(3, num_sync_devices=8)
    plain = nn.BatchNorm3d(3)
    x = torch.randn(2, 3, 2, 2, 2)
    torch.testing.assert_close(sync(x), plain(x))
    assert sync.state_dict().keys() == plain.state_dict().keys()


def test_norm_factory_follows_bn_config():
    cfg = tiny_cfg("c2d", 50, "BN.NORM_TYPE", "sub_batchnorm", "BN.NUM_SPLITS", "2",
                   "BN.EPSILON", "0.01")  # fmt: skip
    norm = get_norm(cfg)(5)
    assert isinstance(norm, SubBatchNorm3d) and norm.num_splits == 2 and norm.eps == 0.01
    cfg = tiny_cfg("c2d", 50, "BN.NORM_TYPE", "sync_batchnorm", "BN.NUM_SYNC_DEVICES", "4")
    norm = get_norm(cfg)(5)
    assert isinstance(norm, SyncBatchNorm3d) and norm.num_sync_devices == 4


def test_convert_norm_keeps_outputs_parameters_and_optimizer_state():
    torch.manual_seed(0)
    cfg = tiny_cfg("slowfast", 50, "RESNET.ZERO_INIT_FINAL_BN", "False")
    model = build_model(cfg)
    x = clip_inputs(cfg, batch=4)
    model(x)  # non-trivial running statistics
    for m in model.modules():
        if isinstance(m, nn.BatchNorm3d):
            _randomise_affine(m)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(x).sum().backward()
    opt.step()
    params = list(model.parameters())
    names = [n for n, _ in model.named_parameters()]
    model.eval()
    with torch.no_grad():
        expected = model(x)

    def check(norm_type, **opts):
        args = ["BN.NORM_TYPE", norm_type] + [str(v) for kv in opts.items() for v in kv]
        assert convert_norm(model, tiny_cfg("slowfast", 50, *args)) is model
        assert [id(p) for p in model.parameters()] == [id(p) for p in params]
        assert [n for n, _ in model.named_parameters()] == names
        with torch.no_grad():
            torch.testing.assert_close(model(x), expected, rtol=1e-5, atol=1e-6)

    check("sub_batchnorm", **{"BN.NUM_SPLITS": 2})
    assert isinstance(model.s2.pathway0_res0.branch2.a_bn, SubBatchNorm3d)
    assert model.s2.pathway0_res0.branch2.a_bn.split_bn.running_mean.numel() == 2 * 16
    check("sub_batchnorm", **{"BN.NUM_SPLITS": 4})
    check("sync_batchnorm", **{"BN.NUM_SYNC_DEVICES": 2})
    assert type(model.s1_fuse.bn) is SyncBatchNorm3d and model.s1_fuse.bn.num_sync_devices == 2
    check("batchnorm")
    assert type(model.s1_fuse.bn) is nn.BatchNorm3d
    # The optimiser still steps the model's parameters after all the conversions.
    model.train()
    opt.zero_grad()
    model(x).sum().backward()
    before = params[0].detach().clone()
    opt.step()
    assert not torch.equal(before, model.s1.pathway0_stem.conv.weight)


def test_convert_norm_to_sub_bn_then_training_splits_the_batch():
    torch.manual_seed(0)
    cfg = tiny_cfg("c2d", 50)
    model = build_model(cfg)
    convert_norm(model, tiny_cfg("c2d", 50, "BN.NORM_TYPE", "sub_batchnorm", "BN.NUM_SPLITS", "2"))
    out = model(clip_inputs(cfg, batch=4))
    out.sum().backward()
    assert out.shape == (4, 3)
    assert model.s1.pathway0_stem.bn.split_bn.num_batches_tracked.item() == 1
