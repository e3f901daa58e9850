"""A model in the user's own file, registered with the decorator, selected by MODEL.MODEL_NAME and
trained by tools/run_net.py (imported through SLOWFAST_EXTRA_MODULES)."""

import textwrap

import torch

from tests.engine.conftest import records, run_net

USER_MODEL = textwrap.dedent(
    """
    import torch
    from torch import nn

    from slowfast.models import MODEL_REGISTRY


    @MODEL_REGISTRY.register()
    class MyPooledLinear(nn.Module):
        \"\"\"Global-average-pools each pathway and classifies the concatenation.\"\"\"

        def __init__(self, cfg):
            super().__init__()
            self.fc = nn.Linear(sum(cfg.DATA.INPUT_CHANNEL_NUM), cfg.MODEL.NUM_CLASSES)

        def forward(self, pathways):
            feats = torch.cat([x.mean(dim=(2, 3, 4)) for x in pathways], dim=1)
            return self.fc(feats)
    """
)


def test_user_model_trains_through_run_net(datasets, tmp_path, monkeypatch):
    path = tmp_path / "my_models.py"
    path.write_text(USER_MODEL)
    monkeypatch.setenv("SLOWFAST_EXTRA_MODULES", str(path))
    out = tmp_path / "user"
    assert (
        run_net(
            datasets["kinetics"],
            out,
            "MODEL.MODEL_NAME",
            "MyPooledLinear",
            "SOLVER.MAX_EPOCH",
            "1",
            "TEST.NUM_ENSEMBLE_VIEWS",
            "1",
            "TEST.NUM_SPATIAL_CROPS",
            "1",
            "BN.USE_PRECISE_STATS",
            "False",
        )
        == 0
    )
    assert len(records(out, "train_epoch")) == 1
    state = torch.load(out / "checkpoints" / "checkpoint_epoch_00001.pyth", weights_only=True)
    assert set(state["model_state"]) == {"fc.weight", "fc.bias"}
    (test,) = records(out, "test_final")
    assert test["num_videos"] == 8
