"""The default configuration tree.

Key names and default values follow PySlowFast so that its YAML files load unchanged and its
users find every option where they expect it. Keys that belong to PySlowFast features this
project does not implement are listed in ``slowfast.config.validate.UNSUPPORTED_SWITCHES``: they
load at their "off" value, and switching one on is reported by the validation pass.

Call :func:`get_cfg` for a fresh copy; never mutate the module-level tree.

This module is longer than the ~350-line rule allows because it is the key table: one assignment
per PySlowFast key, each with its comment, grouped as PySlowFast groups them; splitting it would
only scatter the one place a user looks a key up.
"""

from __future__ import annotations

from fvcore.common.config import CfgNode

# PySlowFast's module held the validation too; its names stay importable from here.
from slowfast.config.validate import UNSUPPORTED_SWITCHES, assert_and_infer_cfg  # noqa: F401

_C = CfgNode()

# ---------------------------------------------------------------------------------------------
# Batch norm
# ---------------------------------------------------------------------------------------------
_C.BN = CfgNode()
# Recompute BN statistics over NUM_BATCHES_PRECISE training batches before each evaluation.
_C.BN.USE_PRECISE_STATS = False
_C.BN.NUM_BATCHES_PRECISE = 200
# Weight decay applied to BN scale and shift.
_C.BN.WEIGHT_DECAY = 0.0
# "batchnorm", "sub_batchnorm" (statistics over NUM_SPLITS groups of clips of the per-process
# batch) or "sync_batchnorm" (statistics over groups of NUM_SYNC_DEVICES processes).
_C.BN.NORM_TYPE = "batchnorm"
_C.BN.NUM_SPLITS = 1
_C.BN.NUM_SYNC_DEVICES = 1
# PySlowFast: synchronise over all processes; not implemented (use NUM_SYNC_DEVICES).
_C.BN.GLOBAL_SYNC = False
_C.BN.EPSILON = 1e-5
_C.BN.MOMENTUM = 0.1

# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------
_C.TRAIN = CfgNode()
_C.TRAIN.ENABLE = True
# Stop when the loss exceeds this factor times its running value; 0 switches the check off.
_C.TRAIN.KILL_LOSS_EXPLOSION_FACTOR = 0.0
_C.TRAIN.DATASET = "kinetics"
# Global batch size over all processes.
_C.TRAIN.BATCH_SIZE = 64
_C.TRAIN.EVAL_PERIOD = 10
_C.TRAIN.CHECKPOINT_PERIOD = 10
_C.TRAIN.AUTO_RESUME = True
# Weights to start from: PySlowFast .pyth, Caffe2 .pkl (CHECKPOINT_TYPE caffe2) or a 2D
# ImageNet network inflated to 3D (CHECKPOINT_INFLATE).
_C.TRAIN.CHECKPOINT_FILE_PATH = ""
_C.TRAIN.CHECKPOINT_TYPE = "pytorch"
_C.TRAIN.CHECKPOINT_INFLATE = False
_C.TRAIN.CHECKPOINT_EPOCH_RESET = False
# Prefixes removed from checkpoint parameter names before loading, e.g. ("backbone.",).
_C.TRAIN.CHECKPOINT_CLEAR_NAME_PATTERN = ()
# Mixed precision: float16 autocast with a gradient scaler on CUDA (as PySlowFast); bfloat16
# autocast on the CPU, where PySlowFast's CUDA-only autocast has no effect.
_C.TRAIN.MIXED_PRECISION = False
_C.TRAIN.CHECKPOINT_IN_INIT = False

# ---------------------------------------------------------------------------------------------
# Testing
# ---------------------------------------------------------------------------------------------
_C.TEST = CfgNode()
_C.TEST.ENABLE = True
_C.TEST.DATASET = "kinetics"
_C.TEST.BATCH_SIZE = 8
# Weights to test; empty means the newest checkpoint under OUTPUT_DIR.
_C.TEST.CHECKPOINT_FILE_PATH = ""
# Temporal views x spatial crops per video.
_C.TEST.NUM_ENSEMBLE_VIEWS = 10
_C.TEST.NUM_SPATIAL_CROPS = 3
_C.TEST.CHECKPOINT_TYPE = "pytorch"
# When set, per-video scores and labels are written to this file (relative to OUTPUT_DIR).
_C.TEST.SAVE_RESULTS_PATH = ""
_C.TEST.NUM_TEMPORAL_CLIPS = []
# How the views of one video are combined: "sum" or "max". Empty: use DATA.ENSEMBLE_METHOD
# (PySlowFast's key).
_C.TEST.ENSEMBLE_METHOD = ""
# A video that cannot be decoded at test time is an error; with this on it is reported and
# left out of the metrics instead (never replaced by another video).
_C.TEST.SKIP_FAILED_VIDEOS = False

# ---------------------------------------------------------------------------------------------
# ResNet backbone
# ---------------------------------------------------------------------------------------------
_C.RESNET = CfgNode()
_C.RESNET.TRANS_FUNC = "bottleneck_transform"
_C.RESNET.NUM_GROUPS = 1
_C.RESNET.WIDTH_PER_GROUP = 64
_C.RESNET.INPLACE_RELU = True
_C.RESNET.STRIDE_1X1 = False
_C.RESNET.ZERO_INIT_FINAL_BN = False
_C.RESNET.ZERO_INIT_FINAL_CONV = False
_C.RESNET.DEPTH = 50
# Per stage and pathway: how many blocks use a temporal kernel.
_C.RESNET.NUM_BLOCK_TEMP_KERNEL = [[3], [4], [6], [3]]
_C.RESNET.SPATIAL_STRIDES = [[1], [2], [2], [2]]
_C.RESNET.SPATIAL_DILATIONS = [[1], [1], [1], [1]]

# ---------------------------------------------------------------------------------------------
# Non-local blocks
# ---------------------------------------------------------------------------------------------
_C.NONLOCAL = CfgNode()
# Per stage and pathway: indices of the blocks followed by a non-local block.
_C.NONLOCAL.LOCATION = [[[]], [[]], [[]], [[]]]
_C.NONLOCAL.GROUP = [[1], [1], [1], [1]]
# "dot_product" or "softmax".
_C.NONLOCAL.INSTANTIATION = "dot_product"
_C.NONLOCAL.POOL = [
    [[1, 2, 2], [1, 2, 2]],
    [[1, 2, 2], [1, 2, 2]],
    [[1, 2, 2], [1, 2, 2]],
    [[1, 2, 2], [1, 2, 2]],
]

# ---------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------
_C.MODEL = CfgNode()
# "c2d", "i3d", "slow", "x3d", "mvit" (single pathway) or "slowfast".
_C.MODEL.ARCH = "slowfast"
# Registry name of the model class: "ResNet", "SlowFast", "X3D", "MViT", or a user's own.
_C.MODEL.MODEL_NAME = "SlowFast"
_C.MODEL.NUM_CLASSES = 400
# "cross_entropy" or "bce_logit" (multi-label).
_C.MODEL.LOSS_FUNC = "cross_entropy"
_C.MODEL.SINGLE_PATHWAY_ARCH = ["2d", "c2d", "i3d", "slow", "x3d", "mvit", "maskmvit"]
_C.MODEL.MULTI_PATHWAY_ARCH = ["slowfast"]
_C.MODEL.DROPOUT_RATE = 0.5
_C.MODEL.DROPCONNECT_RATE = 0.0
_C.MODEL.FC_INIT_STD = 0.01
# Activation applied to the head's output at evaluation: "softmax", "sigmoid" or "none".
_C.MODEL.HEAD_ACT = "softmax"
_C.MODEL.ACT_CHECKPOINT = False
_C.MODEL.DETACH_FINAL_FC = False
_C.MODEL.FROZEN_BN = False
_C.MODEL.FP16_ALLREDUCE = False
# Not in PySlowFast: store conv weights and input clips as channels_last_3d (N, T, H, W, C in
# memory). True / False choose; None (the default) chooses per device from measurements: on the CPU
# channels_last_3d (1.11-1.36x faster training steps of SlowFast and I3D R50 in float32 with
# oneDNN, no change for the small demo network), on CUDA the default layout (PySlowFast's) until
# tools/gpu_check.py has measured it. See BENCHMARKS.md.
_C.MODEL.CHANNELS_LAST = None

# ---------------------------------------------------------------------------------------------
# X3D (MODEL.ARCH x3d, MODEL.MODEL_NAME X3D): Feichtenhofer, "X3D: Expanding Architectures for
# Efficient Video Recognition", CVPR 2020. PySlowFast's keys and defaults.
# ---------------------------------------------------------------------------------------------
_C.X3D = CfgNode()
# Width multiplier of every stage (gamma_w).
_C.X3D.WIDTH_FACTOR = 1.0
# Depth multiplier: blocks per stage are ceil(DEPTH_FACTOR x [1, 2, 5, 3]) (gamma_d).
_C.X3D.DEPTH_FACTOR = 1.0
# Inner width of a block = BOTTLENECK_FACTOR x its output width (gamma_b).
_C.X3D.BOTTLENECK_FACTOR = 1.0
# Width of the head's last layer (lin_5).
_C.X3D.DIM_C5 = 2048
# Width of conv1 (before WIDTH_FACTOR).
_C.X3D.DIM_C1 = 12
# Whether res2 is twice conv1's width (else the same).
_C.X3D.SCALE_RES2 = False
# A norm after lin_5.
_C.X3D.BN_LIN5 = False
# Depthwise (channel-wise) 3x3x3 convolutions in the blocks (else RESNET.NUM_GROUPS groups).
_C.X3D.CHANNELWISE_3x3x3 = True

# ---------------------------------------------------------------------------------------------
# MViT (MODEL.ARCH mvit, MODEL.MODEL_NAME MViT): Fan et al., "Multiscale Vision Transformers",
# ICCV 2021 (v1) and Li et al., "MViTv2", CVPR 2022. PySlowFast's keys and defaults.
# ---------------------------------------------------------------------------------------------
_C.MVIT = CfgNode()
# Pooling of the attention's Q, K, V: "conv" (depthwise conv + LayerNorm), "avg" or "max".
_C.MVIT.MODE = "conv"
# Pool before the Q/K/V projections (v1 option).
_C.MVIT.POOL_FIRST = False
# A class token (its output feeds the head unless USE_MEAN_POOLING).
_C.MVIT.CLS_EMBED_ON = True
# Patch embedding convolution: kernel, stride, padding (T, H, W).
_C.MVIT.PATCH_KERNEL = [3, 7, 7]
_C.MVIT.PATCH_STRIDE = [2, 4, 4]
_C.MVIT.PATCH_PADDING = [2, 4, 4]
# A 2-D patch embedding (images).
_C.MVIT.PATCH_2D = False
_C.MVIT.EMBED_DIM = 96
_C.MVIT.NUM_HEADS = 1
_C.MVIT.MLP_RATIO = 4.0
_C.MVIT.QKV_BIAS = True
# Stochastic depth: the rate grows linearly from 0 at the first block to this at the last.
_C.MVIT.DROPPATH_RATE = 0.1
_C.MVIT.LAYER_SCALE_INIT_VALUE = 0.0
# Number of transformer blocks.
_C.MVIT.DEPTH = 16
_C.MVIT.NORM = "layernorm"
# [block, factor] pairs: the width (heads) is multiplied by factor from that block on.
_C.MVIT.DIM_MUL = []
_C.MVIT.HEAD_MUL = []
# [block, t, h, w] pooling strides of K/V and of Q (Q strides shrink the token grid).
_C.MVIT.POOL_KV_STRIDE = []
# A K/V stride at block 0 divided by every Q stride after it (fills POOL_KV_STRIDE).
_C.MVIT.POOL_KV_STRIDE_ADAPTIVE = None
_C.MVIT.POOL_Q_STRIDE = []
# The pooling kernel of Q, K and V (None: stride + 1 where the stride is > 1).
_C.MVIT.POOL_KVQ_KERNEL = None
# No weight decay on position embeddings and the class token.
_C.MVIT.ZERO_DECAY_POS_CLS = True
_C.MVIT.NORM_STEM = False
# Separate spatial and temporal absolute position embeddings (v1).
_C.MVIT.SEP_POS_EMBED = False
_C.MVIT.DROPOUT_RATE = 0.0
# Absolute position embeddings (v1); v2 uses the decomposed relative ones below instead.
_C.MVIT.USE_ABS_POS = True
_C.MVIT.REL_POS_SPATIAL = False
_C.MVIT.REL_POS_TEMPORAL = False
_C.MVIT.REL_POS_ZERO_INIT = False
# v2's residual pooling connection (pooled Q added to the attention output).
_C.MVIT.RESIDUAL_POOLING = False
# v2: the width grows in the attention (else in the MLP).
_C.MVIT.DIM_MUL_IN_ATT = False
_C.MVIT.SEPARATE_QKV = False
_C.MVIT.HEAD_INIT_SCALE = 1.0
# Average the tokens for the head (else the class token, or norm then mean without one).
_C.MVIT.USE_MEAN_POOLING = False
_C.MVIT.USE_FIXED_SINCOS_POS = False
# Reversible MViT (Mangalam et al., CVPR 2022): not in this project, accepted only when off.
_C.MVIT.REV = CfgNode()
_C.MVIT.REV.ENABLE = False
_C.MVIT.REV.RESPATH_FUSE = "concat"
_C.MVIT.REV.BUFFER_LAYERS = []
_C.MVIT.REV.RES_PATH = "conv"
_C.MVIT.REV.PRE_Q_FUSION = "avg"

# ---------------------------------------------------------------------------------------------
# SlowFast
# ---------------------------------------------------------------------------------------------
_C.SLOWFAST = CfgNode()
# Channel ratio of the Slow pathway to the Fast pathway.
_C.SLOWFAST.BETA_INV = 8
# Frame rate ratio of the Fast pathway to the Slow pathway.
_C.SLOWFAST.ALPHA = 8
_C.SLOWFAST.FUSION_CONV_CHANNEL_RATIO = 2
_C.SLOWFAST.FUSION_KERNEL_SZ = 5

# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------
_C.DATA = CfgNode()
_C.DATA.PATH_TO_DATA_DIR = ""
_C.DATA.PATH_LABEL_SEPARATOR = " "
_C.DATA.PATH_PREFIX = ""
_C.DATA.NUM_FRAMES = 8
_C.DATA.SAMPLING_RATE = 8
_C.DATA.TRAIN_PCA_EIGVAL = [0.225, 0.224, 0.229]
_C.DATA.TRAIN_PCA_EIGVEC = [
    [-0.5675, 0.7192, 0.4009],
    [-0.5808, -0.0045, -0.8140],
    [-0.5836, -0.6948, 0.4203],
]
_C.DATA.PATH_TO_PRELOAD_IMDB = ""
_C.DATA.MEAN = [0.45, 0.45, 0.45]
_C.DATA.INPUT_CHANNEL_NUM = [3, 3]
_C.DATA.STD = [0.225, 0.225, 0.225]
_C.DATA.TRAIN_JITTER_SCALES = [256, 320]
_C.DATA.TRAIN_JITTER_SCALES_RELATIVE = []
_C.DATA.TRAIN_JITTER_ASPECT_RELATIVE = []
_C.DATA.USE_OFFSET_SAMPLING = False
_C.DATA.TRAIN_JITTER_MOTION_SHIFT = False
_C.DATA.TRAIN_CROP_SIZE = 224
_C.DATA.TEST_CROP_SIZE = 256
_C.DATA.TARGET_FPS = 30
_C.DATA.TRAIN_JITTER_FPS = 0.0
# "pyav" (default here), "decord" (optional package) or "torchvision" (PySlowFast's default; where
# torchvision cannot decode -- no video decoder from 0.28 on -- a run uses "pyav" and says so).
_C.DATA.DECODING_BACKEND = "pyav"
# Training clips come out of the reader already at the short side the scale jitter draws: JPEG
# frames through reduced-scale DCT decoding (cheaper), video resized right after decoding (the same
# frames as resizing in the transform). False: every reader returns the file's size.
_C.DATA.DECODE_AT_SCALE = True
# Multigrid: up to this many training clips (each with its own position, scale, crop and flip) are
# cut from one decode of a video in iterations whose batch is that many times the base batch, so a
# coarse phase decodes fewer videos per clip. 1 (the default) decodes every clip on its own.
_C.DATA.CLIPS_PER_DECODE = 1
_C.DATA.DECODING_SHORT_SIZE = 256
# SSv2 / Charades frame sampling inverted to uniform (PySlowFast semantics).
_C.DATA.INV_UNIFORM_SAMPLE = False
_C.DATA.RANDOM_FLIP = True
_C.DATA.MULTI_LABEL = False
_C.DATA.ENSEMBLE_METHOD = "sum"
_C.DATA.REVERSE_INPUT_CHANNEL = False
_C.DATA.TRAIN_CROP_NUM_TEMPORAL = 1
_C.DATA.TRAIN_CROP_NUM_SPATIAL = 1
_C.DATA.COLOR_RND_GRAYSCALE = 0.0
_C.DATA.LOADER_CHUNK_SIZE = 0
_C.DATA.LOADER_CHUNK_OVERALL_SIZE = 0
_C.DATA.SKIP_ROWS = 0
_C.DATA.TIME_DIFF_PROB = 0.0
_C.DATA.SSL_COLOR_JITTER = False
_C.DATA.SSL_COLOR_BRI_CON_SAT = [0.4, 0.4, 0.4]
_C.DATA.SSL_COLOR_HUE = 0.1
_C.DATA.SSL_MOCOV2_AUG = False
_C.DATA.SSL_BLUR_SIGMA_MIN = [0.0, 0.1]
_C.DATA.SSL_BLUR_SIGMA_MAX = [0.0, 2.0]
_C.DATA.IN22K_TRAINVAL = False
_C.DATA.IN22k_VAL_IN1K = ""
_C.DATA.IN_VAL_CROP_RATIO = 0.875
_C.DATA.DUMMY_LOAD = False
# Keep up to this many MB of fully decoded videos per process and cut later clips from them
# (slowfast/datasets/cache.py); for datasets that fit in memory. 0 switches it off.
_C.DATA.DECODED_CACHE_MB = 0
# Training samples that fail to load are replaced by random others at most this many times in
# a row before the epoch stops with an error.
_C.DATA.MAX_LOAD_RETRIES = 10

# ---------------------------------------------------------------------------------------------
# Optimiser and learning rate
# ---------------------------------------------------------------------------------------------
_C.SOLVER = CfgNode()
_C.SOLVER.BASE_LR = 0.1
# "steps_with_relative_lrs", "cosine", "steps" or "constant".
_C.SOLVER.LR_POLICY = "cosine"
_C.SOLVER.COSINE_END_LR = 0.0
_C.SOLVER.GAMMA = 0.1
_C.SOLVER.STEP_SIZE = 1
_C.SOLVER.STEPS = []
_C.SOLVER.LRS = []
_C.SOLVER.MAX_EPOCH = 300
_C.SOLVER.MOMENTUM = 0.9
_C.SOLVER.DAMPENING = 0.0
_C.SOLVER.NESTEROV = True
_C.SOLVER.WEIGHT_DECAY = 1e-4
_C.SOLVER.WARMUP_FACTOR = 0.1
_C.SOLVER.WARMUP_EPOCHS = 0.0
_C.SOLVER.WARMUP_START_LR = 0.01
# "sgd", "adam" or "adamw".
_C.SOLVER.OPTIMIZING_METHOD = "sgd"
_C.SOLVER.BASE_LR_SCALE_NUM_SHARDS = False
_C.SOLVER.COSINE_AFTER_WARMUP = False
_C.SOLVER.ZERO_WD_1D_PARAM = False
_C.SOLVER.CLIP_GRAD_VAL = None
_C.SOLVER.CLIP_GRAD_L2NORM = None
_C.SOLVER.LARS_ON = False
_C.SOLVER.LAYER_DECAY = 1.0
_C.SOLVER.BETAS = (0.9, 0.999)

# ---------------------------------------------------------------------------------------------
# Multigrid training (Wu et al., CVPR 2020)
# ---------------------------------------------------------------------------------------------
_C.MULTIGRID = CfgNode()
# Multigrid trains for this many times the baseline's epochs (fewer iterations in all).
_C.MULTIGRID.EPOCH_FACTOR = 1.5
_C.MULTIGRID.SHORT_CYCLE = False
# Extra crop sizes of the short cycle, relative to the default crop.
_C.MULTIGRID.SHORT_CYCLE_FACTORS = [0.5, 0.5**0.5]
_C.MULTIGRID.LONG_CYCLE = False
# (frames, crop) factors relative to the default shape, one per long-cycle stage.
_C.MULTIGRID.LONG_CYCLE_FACTORS = [
    (0.25, 0.5**0.5),
    (0.5, 0.5**0.5),
    (0.5, 1),
    (1, 1),
]
# BN statistics are computed over this many clips whatever the batch size.
_C.MULTIGRID.BN_BASE_SIZE = 8
# Evaluations (and checkpoints) per long-cycle stage.
_C.MULTIGRID.EVAL_FREQ = 3
# One long cycle over the whole of training, with no fine-tuning phase (paper supplement).
_C.MULTIGRID.SINGLE_LONG_CYCLE = False
# Where phase boundaries, LR steps, warm-up and evaluations fall: "iterations" keeps every
# phase's exact share of training whatever the dataset size (no phase is ever empty; warm-up
# covers the share of iterations SOLVER.WARMUP_EPOCHS is of the baseline); "epochs" rounds them
# to whole epochs as PySlowFast does. See docs/MULTIGRID.md.
_C.MULTIGRID.PHASE_UNIT = "iterations"
# How long the LR warm-up lasts with iteration phases: "epochs" lasts SOLVER.WARMUP_EPOCHS
# epochs of the schedule, as in PySlowFast (few iterations, since the first phases have the
# largest batches); "iterations" covers the share of all iterations that SOLVER.WARMUP_EPOCHS is
# of the baseline's epochs. Chosen by measurement (projects/multigrid/RESULTS.md).
_C.MULTIGRID.WARMUP_UNIT = "epochs"
# Whether the final fine-tuning phase (at the full shape) keeps the short cycle, as PySlowFast's
# does. False: every fine-tuning iteration is at the full shape (the same share of iterations).
# Chosen by measurement (projects/multigrid/RESULTS.md).
_C.MULTIGRID.FINE_TUNE_SHORT_CYCLE = False
# Short-cycle crops relative to the default crop ("pyslowfast") or to the long-cycle stage's own
# crop ("paper": batch factors 4x, 2x, 1x inside every stage; PySlowFast issue #429).
_C.MULTIGRID.SHORT_CYCLE_RULE = "pyslowfast"
# Set by the schedule; not for users.
_C.MULTIGRID.LONG_CYCLE_SAMPLING_RATE = 0
_C.MULTIGRID.DEFAULT_B = 0
_C.MULTIGRID.DEFAULT_T = 0
_C.MULTIGRID.DEFAULT_S = 0
# Set by the schedule: the baseline SOLVER.STEPS / MAX_EPOCH, to rebuild it from a rewritten cfg.
_C.MULTIGRID.DEFAULT_STEPS = []
_C.MULTIGRID.DEFAULT_MAX_EPOCH = 0

# ---------------------------------------------------------------------------------------------
# Data loader
# ---------------------------------------------------------------------------------------------
_C.DATA_LOADER = CfgNode()
_C.DATA_LOADER.NUM_WORKERS = 8
_C.DATA_LOADER.PIN_MEMORY = True
# Accepted for compatibility; PyAV decoding here is always threaded.
_C.DATA_LOADER.ENABLE_MULTI_THREAD_DECODE = False

# ---------------------------------------------------------------------------------------------
# TensorBoard
# ---------------------------------------------------------------------------------------------
_C.TENSORBOARD = CfgNode()
_C.TENSORBOARD.ENABLE = False
_C.TENSORBOARD.PREDICTIONS_PATH = ""
# Relative to OUTPUT_DIR; empty means OUTPUT_DIR/runs-<dataset>.
_C.TENSORBOARD.LOG_DIR = ""
_C.TENSORBOARD.CLASS_NAMES_PATH = ""
_C.TENSORBOARD.CATEGORIES_PATH = ""
_C.TENSORBOARD.CONFUSION_MATRIX = CfgNode()
_C.TENSORBOARD.CONFUSION_MATRIX.ENABLE = False
_C.TENSORBOARD.HISTOGRAM = CfgNode()
_C.TENSORBOARD.HISTOGRAM.ENABLE = False
_C.TENSORBOARD.MODEL_VIS = CfgNode()
_C.TENSORBOARD.MODEL_VIS.ENABLE = False
_C.TENSORBOARD.WRONG_PRED_VIS = CfgNode()
_C.TENSORBOARD.WRONG_PRED_VIS.ENABLE = False

# ---------------------------------------------------------------------------------------------
# PySlowFast features outside this project, accepted only when off
# ---------------------------------------------------------------------------------------------
_C.DETECTION = CfgNode()
_C.DETECTION.ENABLE = False
# The augmentation and mixup keys of PySlowFast's X3D / MViT configs, with its defaults, so that
# those configs load; switching either on is refused until the recipe lands (docs/TRAINING.md).
_C.AUG = CfgNode()
_C.AUG.ENABLE = False
_C.AUG.NUM_SAMPLE = 1
_C.AUG.COLOR_JITTER = 0.4
_C.AUG.AA_TYPE = "rand-m9-mstd0.5-inc1"
_C.AUG.INTERPOLATION = "bicubic"
_C.AUG.RE_PROB = 0.25
_C.AUG.RE_MODE = "pixel"
_C.AUG.RE_COUNT = 1
_C.AUG.RE_SPLIT = False
_C.AUG.GEN_MASK_LOADER = False
_C.AUG.MASK_TUBE = False
_C.AUG.MASK_FRAMES = False
_C.AUG.MASK_WINDOW_SIZE = [8, 7, 7]
_C.AUG.MASK_RATIO = 0.0
_C.AUG.MAX_MASK_PATCHES_PER_BLOCK = None
_C.MIXUP = CfgNode()
_C.MIXUP.ENABLE = False
_C.MIXUP.ALPHA = 0.8
_C.MIXUP.CUTMIX_ALPHA = 1.0
_C.MIXUP.PROB = 1.0
_C.MIXUP.SWITCH_PROB = 0.5
_C.MIXUP.LABEL_SMOOTH_VALUE = 0.1
_C.MASK = CfgNode()
_C.MASK.ENABLE = False
_C.DEMO = CfgNode()
_C.DEMO.ENABLE = False

# ---------------------------------------------------------------------------------------------
# Misc
# ---------------------------------------------------------------------------------------------
_C.TASK = ""
# Processes per machine (GPUs); 0 runs on the CPU.
_C.NUM_GPUS = 1
_C.NUM_SHARDS = 1
_C.SHARD_ID = 0
_C.OUTPUT_DIR = "."
_C.RNG_SEED = 1
_C.LOG_PERIOD = 10
_C.LOG_MODEL_INFO = True
_C.DIST_BACKEND = "nccl"


def get_cfg() -> CfgNode:
    """Return a fresh copy of the default config."""
    return _C.clone()
